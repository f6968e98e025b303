"""The code behind ``data_load_utils``: one idea per module, in the order data flows.

| module | what it holds | imports TensorFlow |
|---|---|---|
| ``checks`` | argument checks that name the argument and the value | no |
| ``files`` | atomic writes: a temporary file renamed into place | no |
| ``download`` | fetch a file from a URL or a local folder, checked by sha256 | no |
| ``tweeteval`` | TweetEval emoji: the seven raw files, validated, to ``tweets.csv`` | no |
| ``sentiment140`` | Sentiment140: its zip to ``tweets.csv`` with a polarity column | no |
| ``make_data`` | the ``make-data`` command | no |
| ``tweet_csv`` | the tweets CSV contract, reading it whole or in chunks, repeating it | no |
| ``text`` | the 93-character set, cleaning, padding, character and emoji lists | no |
| ``ids`` | whole tweets as rows of integer ids, and back | no |
| ``windows`` | the seed's windows and one-hot arrays, loop and vectorised | no |
| ``generators`` | the seed's batch generators | no |
| ``store`` | ``TweetStore``: tweets as ids and offsets, memory-mapped, read by index | no |
| ``prepare`` | ``prepare_tweets``: a tweets CSV prepared once into a store folder | no |
| ``batches`` | batch ``i`` of epoch ``e`` from ``(seed, e, i)``: shuffle, buckets, shards; ids or windows | no |
| ``dataset`` | ``TweetDataset``/``WindowDataset`` (``keras.utils.PyDataset``) and ``tf_dataset`` | yes |
| ``model`` | the whole-sequence LSTM and sampling from it | yes |
| ``evaluate`` | bits per character: models, a character n-gram, ``xz`` | no |
| ``callbacks`` | callbacks that count steps across a restart: memory, progress, time budget | yes |
| ``resume`` | backups and training that resumes exactly mid-epoch | yes |
| ``distribute`` | ``tf.distribute`` strategies, shards, the one guarded Keras workaround | yes |
| ``training`` | ``train_resumably``: budget, validation, best model, early stopping across restarts | yes |
| ``cli`` | ``python -m tweet_lstm train`` / ``generate``: a model of your own tweets | on use |
| ``quiet`` | import TensorFlow without its start-up log lines | no |
| ``machine`` | the CPU, cores and memory a measurement ran on | no |
"""
