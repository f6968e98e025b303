"""The code behind ``data_load_utils``: one idea per module, in folders that follow the data.

| module | what it holds | TensorFlow |
|---|---|---|
| ``checks``, ``files`` | argument checks that name the argument; atomic writes of files and folders | no |
| ``data/download`` | fetch a file from a URL or a local folder, checked by sha256 | no |
| ``data/tweeteval``, ``data/sentiment140`` | the published files to a tweets CSV | no |
| ``data/tweet_csv`` | the tweets CSV contract, reading it whole or in chunks, repeating it | no |
| ``data/text`` | the 93-character set, cleaning, padding, character and emoji lists | no |
| ``store/ids`` | whole tweets as rows of integer ids, and back | no |
| ``store/windows``, ``store/generators`` | the seed's one-hot windows, loop and vectorised, and its generators | no |
| ``store/store``, ``store/prepare`` | ``TweetStore``: a CSV prepared once into ids, memory-mapped, read by index | no |
| ``store/batches`` | batch ``i`` of epoch ``e`` from ``(seed, e, i)``: shuffle, buckets, shards; ids or windows | no |
| ``train/positions`` | the global step, and the epoch and round it falls in | no |
| ``train/settings`` | ``TrainSettings``: what a training run is | no |
| ``train/dataset`` | ``tf_dataset``: the one adapter from batches to Keras | yes |
| ``train/model`` | the whole-sequence LSTM and sampling from it | yes |
| ``train/evaluate`` | bits per character: models, a character n-gram, ``xz`` | no |
| ``train/callbacks`` | callbacks that count steps across a restart: memory, progress, time budget | yes |
| ``train/resume``, ``train/training`` | backups, exact resume; ``train_resumably``: validation, early stopping | yes |
| ``train/distribute`` | ``tf.distribute`` strategies, shards, the one guarded Keras workaround | yes |
| ``cli`` | ``python -m tweet_lstm data`` / ``train`` / ``generate`` | on use |
| ``quiet``, ``machine`` | import TensorFlow without its start-up lines; the machine a measurement ran on | no |
"""
