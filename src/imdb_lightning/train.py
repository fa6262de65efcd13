"""Train, validate and test one configuration: the thin function every command and sweep job runs."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from imdb_lightning.config import validate
from imdb_lightning.summary import keras_summary

log = logging.getLogger(__name__)


def instantiate_all(node: DictConfig | None) -> list:
    """Every ``_target_`` child of a group (callbacks, loggers), in order."""
    if not node:
        return []
    return [hydra.utils.instantiate(child) for child in node.values() if isinstance(child, DictConfig) and "_target_" in child]


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, test and leave the run folder complete; return the final metrics (``val/acc_best`` first)."""
    validate(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))

    datamodule: L.LightningDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    optimizer = hydra.utils.instantiate(cfg.optimizer)
    scheduler = hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    model: L.LightningModule = hydra.utils.instantiate(cfg.model, num_words=datamodule.num_words, optimizer=optimizer, scheduler=scheduler)
    summary = keras_summary(model.net)
    log.info("\n%s", summary)
    (output_dir / "summary.txt").write_text(summary + "\n")

    loggers = instantiate_all(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=instantiate_all(cfg.get("callbacks")), logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(model, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}

    if cfg.test:
        ckpt = "best" if cfg.test_ckpt == "best" and trainer.checkpoint_callback else None
        tested = trainer.test(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False)[0]
        metrics.update(tested)
        # The lecture prints model.evaluate(x_test, y_test): [loss, accuracy].
        print(f"test [loss, accuracy]: [{tested['test/loss']:.4f}, {tested['test/acc']:.4f}]")

    metrics = {k: (v if math.isfinite(v) else None) for k, v in sorted(metrics.items())}
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    tb_root = cfg.paths.tensorboard_dir
    print(f"run folder: {output_dir}\nTensorBoard: tensorboard --logdir {tb_root}")
    return metrics
