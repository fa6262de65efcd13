"""The app's configuration: its files, the overrides a command gives, Hydra's runtime, and the checks."""
