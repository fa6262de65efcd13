"""imdb_lightning: the Keras IMDB regularization/optimization lecture as a PyTorch Lightning + Hydra kit."""

__version__ = "0.1.0"
