"""imdb_lightning: the Keras IMDB regularization/optimization lecture as a PyTorch Lightning + Hydra kit.

From Python (a notebook): ``imdb_lightning.run("+experiment=dropout")`` and the rest of
:mod:`imdb_lightning.api`.
"""

__version__ = "0.1.0"

#: The notebook API, imported on first use: the command line and the report need none of it.
_API = ("Result", "Sweep", "experiments", "load_sweep", "plot_histories", "run", "sweep")
__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name in _API:
        from imdb_lightning import api

        return getattr(api, name)
    raise AttributeError(f"module 'imdb_lightning' has no attribute {name!r}")
