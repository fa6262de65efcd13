"""``python -m imdb_lightning [overrides]``: one lecture experiment (``+experiment=NAME``) or a sweep (``-m``)."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from imdb_lightning.config import CONFIG_DIR, register_resolvers
from imdb_lightning.errors import ConfigError, DataError

log = logging.getLogger("imdb_lightning")


# An absolute config path: works the same from a source checkout, an installed wheel and any folder.
@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def _app(cfg: DictConfig) -> float | None:
    from imdb_lightning.train import train  # torch and Lightning load only once the config is composed

    try:
        metrics = train(cfg)
    except (ConfigError, DataError) as err:
        log.error("error: %s", err)
        sys.exit(2)
    return metrics.get("val/acc_best")


def main() -> None:
    register_resolvers()
    _app()


if __name__ == "__main__":
    main()
