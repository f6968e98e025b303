"""Tweets as ids: encoding, the seed's windows, the prepared store and its batches. No TensorFlow."""
