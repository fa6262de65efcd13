"""The network: Keras-like layers, initializers and optimizers, the classifier, its batches and kernels."""
