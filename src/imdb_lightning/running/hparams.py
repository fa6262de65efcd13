"""TensorBoard's HParams tab: a run's settings when it starts, its real status when it ends.

No experiment summary is written: given one, TensorBoard shows that run's own keys as the sweep's and marks
none as differing. Without it, the tab reads every run's settings and marks the keys whose values differ (the
swept ones, shown first), and its metric columns are the runs' scalars (their sub-runs' too), each at its
last value (``summary/best_val_accuracy``; ``validation`` ``epoch_loss``, the final validation loss; the
names of :data:`~imdb_lightning.running.loggers.TENSORBOARD_TAGS`).
Lightning's ``log_hyperparams(params, metrics)`` would also write 0.0 placeholder metrics and end the session
as a success before the run did anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from imdb_lightning.config.overrides import names_the_run, split_override
from imdb_lightning.running.folder import Status
from imdb_lightning.running.loggers import tensorboard_loggers
from imdb_lightning.utils.private import write_summary

# An interrupted run neither failed nor finished: TensorBoard has no closer word than "unknown". A running run
# has no end yet, which the tab also shows as unknown (it keeps the first end it reads, so no "running" mark
# can be written first and replaced later).
STATUS = {
    Status.COMPLETED: "STATUS_SUCCESS",
    Status.DIVERGED: "STATUS_FAILURE",
    Status.FAILED: "STATUS_FAILURE",
    Status.INTERRUPTED: "STATUS_UNKNOWN",
}


#: Shown for every run, beside the keys its command line sets or sweeps: what tells the lecture's runs apart.
ALWAYS_SHOWN = (
    "lecture.name",
    "seed",
    "model.hidden_sizes",
    "model.activation",
    "model.dropout",
    "model.batchnorm",
    "model.l1",
    "model.l2",
    "model.init",
    "optimizer.lr",
    "data.num_words",
    "data.batch_size",
)


def selected_settings(cfg: DictConfig, overrides: Iterable[str] = ()) -> dict:
    """The settings the HParams tab shows: :data:`ALWAYS_SHOWN`, the optimizer's class, and every key the
    command line set or swept (``overrides`` as Hydra records them), not the ~70 keys of callback and path
    plumbing."""
    keys = list(ALWAYS_SHOWN)
    for override in overrides:
        key = split_override(override)[0]
        if key not in keys and names_the_run(key) and key not in ("experiment", "optimizer"):
            keys.append(key)
    settings = {"optimizer": str(cfg.optimizer.get("_target_", "")).rsplit(".", 1)[-1]}
    for key in keys:
        value = OmegaConf.select(cfg, key, default=None)
        if not isinstance(value, DictConfig):  # a config group's whole node is not one setting
            settings[key.replace(".", "/")] = (
                OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
            )
    return settings


def flatten(config: dict, prefix: str = "") -> dict[str, bool | int | float | str]:
    """``{"model": {"dropout": 0.5}}`` -> ``{"model/dropout": 0.5}``; lists and null become text."""
    flat: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}/"))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = "null" if value is None else str(value)
    return flat


@contextmanager
def hparams_session(loggers: Iterable, config: dict) -> Iterator[dict]:
    """Start the session; end it with ``outcome["status"]`` as the block sets it (``failed`` if it raises,
    ``interrupted`` on Ctrl-C)."""
    loggers = list(loggers)
    start_session(loggers, config)
    outcome = {"status": Status.FAILED}
    try:
        yield outcome
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C during fit into SystemExit
        outcome["status"] = Status.INTERRUPTED
        raise
    finally:
        end_session(loggers, outcome["status"])


@rank_zero_only
def start_session(loggers: Iterable, config: dict) -> None:
    """Write the run's settings now, so that the run shows in the tab at once."""
    _, session_start, _ = hparams_summaries(flatten(config), {})
    for logger in tensorboard_loggers(loggers):
        logger.log_hyperparams(config)  # hparams.yaml; with no metrics Lightning writes nothing else
        write_summary(logger.experiment, session_start)
        logger.save()


@rank_zero_only
def end_session(loggers: Iterable, status: Status) -> None:
    """Close the session with the run's status (a key of :data:`STATUS`)."""
    info = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value(STATUS[Status(status)]))
    content = plugin_data_pb2.HParamsPluginData(session_end_info=info, version=metadata.PLUGIN_DATA_VERSION)
    plugin = SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME, content=content.SerializeToString())
    summary = Summary(
        value=[Summary.Value(tag=metadata.SESSION_END_INFO_TAG, metadata=SummaryMetadata(plugin_data=plugin))]
    )
    for logger in tensorboard_loggers(loggers):
        write_summary(logger.experiment, summary)
        logger.save()
        # The run's last write, after fit's and test's ends closed the writer: this write opened it again, and
        # left open it kept a thread and an event file of each run until the process ended (a sweep's worker).
        logger.experiment.close()
