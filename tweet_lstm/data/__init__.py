"""Get the tweets: download or copy them, the tweets CSV contract, and cleaning. No TensorFlow."""
