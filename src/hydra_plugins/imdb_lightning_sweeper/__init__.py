"""imdb_lightning's Hydra sweeper (Hydra finds plugins only under ``hydra_plugins``)."""
