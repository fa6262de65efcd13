"""A run's life: training, its callbacks and checkpoints, the run folder, the console and TensorBoard."""
