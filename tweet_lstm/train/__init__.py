"""Training: the model, the one adapter to Keras, callbacks, resumable training, evaluation."""
