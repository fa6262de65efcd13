"""The DataModule serves the lecture's splits as exact multi-hot batches built from the compact encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from runs import bare_trainer

from imdb_lightning.data import BatchLoader, CompactBatch, IMDBDataModule, load_corpus, load_data, multi_hot
from imdb_lightning.data.prepare import main as prepare_main
from imdb_lightning.network.model import IMDBClassifier


def vectorize_sequences(sequences, dimension):
    """The lecture's own function, as reference."""
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.0
    return results


def ready(data_dir, **kwargs) -> IMDBDataModule:
    dm = IMDBDataModule(
        data_dir, **{"val_size": 10, "batch_size": 8, "num_words": 20, "batch_format": "dense", **kwargs}
    )
    dm.prepare_data()
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("settings", [{}, {"seed": 3, "maxlen": 30, "skip_top": 4}], ids=str)
def test_splits_are_load_datas_arrays_with_the_first_val_size_training_reviews_as_validation(
    data_dir, settings
):
    dm = ready(data_dir, **settings)
    (x_train, y_train), (x_test, y_test) = load_data(data_dir, num_words=20, **settings)
    assert {k: len(v) for k, v in dm.splits.items()} == {
        "val": 10,
        "train": len(x_train) - 10,
        "test": len(x_test),
    }
    assert [dm.splits["val"].sequence(i) for i in range(10)] == list(x_train[:10])
    assert [dm.splits["train"].sequence(i) for i in range(len(x_train) - 10)] == list(x_train[10:])
    assert [dm.splits["test"].sequence(i) for i in range(len(x_test))] == list(x_test)
    assert dm.splits["val"].labels.tolist() == y_train[:10].tolist()
    assert dm.splits["test"].labels.tolist() == y_test.tolist()
    assert dm.splits["val"].labels.dtype == np.float32
    assert set(np.unique(dm.splits["train"].labels)) == {0.0, 1.0}


def test_load_data_has_kerass_types(data_dir):
    (x_train, y_train), (x_test, y_test) = load_data(data_dir)
    assert x_train.dtype == object and x_train.shape == (40,) and x_test.shape == (40,)
    assert all(type(x) is list and type(x[0]) is int and x[0] == 1 for x in x_train)
    assert y_train.dtype == np.int64 and sorted(set(y_train.tolist())) == [0, 1]


@pytest.mark.parametrize("stage", ["train", "val", "test"])
def test_batches_are_exactly_the_lectures_multi_hot_rows(data_dir, stage):
    dm = ready(data_dir)
    split = dm.splits[stage]
    loader = dm.loader(stage)
    seen = 0
    for x, y in loader:
        expected = vectorize_sequences([split.sequence(seen + i) for i in range(len(y))], 20)
        assert x.dtype == torch.float32 and x.shape == (len(y), 20)
        np.testing.assert_array_equal(x.numpy(), expected)
        assert (x[:, 1] == 1).all()  # the start id is in every review
        np.testing.assert_array_equal(y.numpy(), split.labels[seen : seen + len(y)])
        seen += len(y)
    assert seen == len(split) and len(loader) == -(-len(split) // 8)


def test_multi_hot_sets_presence_not_counts():
    ids = torch.tensor([1, 5, 5, 5, 1, 3])
    x = multi_hot(ids, torch.tensor([0, 4, 4, 6]), 6)
    assert x.tolist() == [[0, 1, 0, 0, 0, 1], [0] * 6, [0, 1, 0, 1, 0, 0]]


def test_training_order_is_reshuffled_per_epoch_and_reproducible(data_dir):
    dm = ready(data_dir)

    def epoch_labels(loader, epoch):
        loader.sampler.set_epoch(epoch)
        return torch.cat([y for _, y in loader]).tolist(), torch.cat([x for x, _ in loader]).tolist()

    a, b = dm.train_dataloader(), dm.train_dataloader()
    assert epoch_labels(a, 0) == epoch_labels(b, 0)
    assert epoch_labels(a, 0)[1] != epoch_labels(a, 1)[1]
    assert sorted(epoch_labels(a, 3)[0]) == sorted(dm.splits["train"].labels.tolist())
    # validation is never shuffled
    assert [y.tolist() for _, y in dm.val_dataloader()] == [y.tolist() for _, y in dm.val_dataloader()]


def test_a_shuffled_epoch_serves_the_permuted_reviews_by_either_gather(data_dir):
    dm = ready(data_dir, batch_format="bag")
    loader = dm.loader("train", shuffle=True)
    loader.sampler.set_epoch(4)
    order = loader.sampler.order()
    bags = dm.bags["train"]
    batches = [x for x, _ in loader]
    assert [len(b.labels) for b in batches] == [8, 8, 8, 6]
    served = [b.ids[b.offsets[i] : b.offsets[i + 1]].tolist() for b in batches for i in range(len(b.labels))]
    assert served == [bags.sequence(int(r)) for r in order]
    compiled, indexed = loader.gather(order, compiled=True), loader.gather(order, compiled=False)
    for a, b in zip(compiled, indexed, strict=True):
        assert torch.equal(a, b)


def test_width_when_num_words_is_none_is_kerass_largest_id_present(data_dir):
    dm = ready(data_dir, num_words=None)
    corpus = load_corpus(data_dir)
    largest = max(int(corpus.splits[split].ranks.max()) for split in ("train", "test")) + 3  # + index_from
    assert dm.num_words == largest  # Keras keeps the ids below the largest present (that one becomes OOV)
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape[1] == dm.num_words


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_words": 3}, r"data.num_words must be an integer >= 4 \(or null\), got 3"),
        ({"batch_size": 0}, "data.batch_size must be a positive integer, got 0"),
        ({"batch_size": True}, "data.batch_size must be a positive integer, got True"),
        ({"val_size": 0}, "data.val_size must be a positive integer, got 0"),
        ({"download": "yes"}, "data.download must be true or false, got 'yes'"),
    ],
)
def test_bad_settings_name_their_key(data_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        IMDBDataModule(data_dir, **kwargs)


def test_settings_beyond_the_data_name_their_key(data_dir):
    with pytest.raises(ValueError, match=r"val_size must be in \(0, 40\)"):
        ready(data_dir, val_size=40)
    with pytest.raises(ValueError, match="num_words=500 exceeds the vocabulary"):
        ready(data_dir, num_words=500)


def test_loader_works_without_lightning(data_dir):
    dm = ready(data_dir)
    loader = BatchLoader(dm.splits["test"], 16, width=20)
    batches = list(loader)
    assert sum(len(y) for _, y in batches) == 40
    assert all(x.shape == (len(y), 20) and x.dtype == torch.float32 for x, y in batches)


def test_prepare_command_reports_what_it_found(data_dir, capsys):
    assert prepare_main(["--data-dir", str(data_dir), "--num-words", "20", "--val-size", "10"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "30" in out and "val" in out and "test" in out
    assert "vocabulary: 30 words" in out
    assert "cache:" in out and ".npz" in out


def test_prepare_command_reports_reviews_that_were_not_utf8(data_dir, capsys):
    (data_dir / "aclImdb" / "test" / "pos" / "5_9.txt").write_bytes(b"fine \xff film")
    assert prepare_main(["--data-dir", str(data_dir), "--num-words", "20", "--val-size", "10"]) == 0
    assert "not valid UTF-8 (read with replacement characters): 1" in capsys.readouterr().out


def test_prepare_command_without_data_explains_and_exits_2(tmp_path, capsys):
    assert prepare_main(["--no-download"]) == 2
    assert "IMDB_LIGHTNING_DATA" in capsys.readouterr().err


def test_bag_format_serves_each_reviews_distinct_ids(data_dir):
    dense, bag = ready(data_dir), ready(data_dir, batch_format="bag")
    for (x, _), (compact, y) in zip(dense.loader("val"), bag.loader("val"), strict=True):
        assert isinstance(compact, CompactBatch)
        np.testing.assert_array_equal(multi_hot(compact.ids, compact.offsets, 20).numpy(), x.numpy())
        for i in range(len(y)):
            row = compact.ids[compact.offsets[i] : compact.offsets[i + 1]].tolist()
            assert row == sorted(set(row))  # distinct ids, once each
    with pytest.raises(ValueError, match="data.batch_format must be one of auto, dense, bag, got 'sparse'"):
        IMDBDataModule(data_dir, batch_format="sparse")


def test_ddp_processes_each_take_a_disjoint_share_of_every_epoch(data_dir):
    dm = ready(data_dir)
    split = dm.splits["train"]
    shares = [BatchLoader(split, 4, shuffle=True, seed=5, shard=(rank, 3)) for rank in range(3)]
    for loader in shares:
        loader.sampler.set_epoch(2)
    assert [sum(len(y) for _, y in loader) for loader in shares] == [10, 10, 10]
    assert [len(loader) for loader in shares] == [3, 3, 3]  # 10 reviews each, in batches of 4
    whole = BatchLoader(split, 4, shuffle=True, seed=5)
    whole.sampler.set_epoch(2)
    order = whole.sampler.order()
    for rank, loader in enumerate(shares):
        assert loader.sampler.order().tolist() == order[rank::3].tolist()


def test_a_second_module_with_the_same_data_and_settings_reuses_the_prepared_splits(data_dir, monkeypatch):
    from imdb_lightning.data import datamodule

    first = ready(data_dir)
    monkeypatch.setattr(datamodule, "load_located", lambda *a, **k: pytest.fail("read the corpus again"))
    second = ready(data_dir)  # as the next job of a sweep does
    assert second.splits["train"] is first.splits["train"] and second.num_words == first.num_words
    monkeypatch.undo()
    other = ready(data_dir, num_words=25)  # other settings: prepared anew
    assert other.num_words == 25 and other.splits["train"] is not first.splits["train"]
    (data_dir / "aclImdb" / "train" / "pos" / "0_8.txt").write_text("the film the film")  # other data: anew
    changed = ready(data_dir, num_words=25)
    assert changed.splits["train"] is not other.splits["train"]


def test_a_standalone_module_serves_multi_hot_rows_whatever_the_model(data_dir):
    """The README's promise: x is float32 [batch, num_words] unless a model asks for bags."""
    dm = IMDBDataModule(data_dir, val_size=10, batch_size=8, num_words=20)
    dm.prepare_data()
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.dtype == torch.float32 and x.shape == (8, 20) and y.shape == (8,)


class _AttachedTo:
    """A stand-in trainer whose model is ``model`` (what ``resolved_batch_format`` looks at)."""

    def __init__(self, model):
        self.lightning_module = model
        self.strategy = type("S", (), {"root_device": torch.device("cpu")})()
        self.global_rank, self.world_size = 0, 1


@pytest.mark.parametrize(
    ("model", "expected"),
    [(IMDBClassifier(input_dim=20), "bag"), (torch.nn.Linear(20, 1), "dense"), (None, "dense")],
    ids=["our model", "any other model", "no model"],
)
def test_auto_serves_bags_only_to_a_model_that_reads_them(data_dir, model, expected):
    dm = ready(data_dir, batch_format="auto")
    dm.trainer = _AttachedTo(model) if model is not None else None
    assert dm.resolved_batch_format() == expected
    x, _ = next(iter(dm.train_dataloader()))
    assert isinstance(x, CompactBatch) == (expected == "bag")


def test_a_model_that_runs_several_batches_a_step_gets_them_grouped_in_order(data_dir):
    """Keras's steps_per_execution: 30 training reviews in batches of 8 are 4 batches, served as [3, 1]."""
    from imdb_lightning.network.batches import Execution

    dm = ready(data_dir, batch_format="bag")
    one_by_one = [labels for _, labels in dm.train_dataloader()]
    dm.trainer = _AttachedTo(IMDBClassifier(input_dim=20, steps_per_execution=3))
    loader = dm.train_dataloader()
    executions = list(loader)
    assert len(loader) == len(executions) == 2
    assert all(isinstance(e, Execution) for e in executions) and [len(e) for e in executions] == [3, 1]
    grouped = [labels for execution in executions for _, labels in execution]
    assert all(torch.equal(a, b) for a, b in zip(grouped, one_by_one, strict=True))
    assert [len(e) for e in dm.val_dataloader()] == [2]  # 10 validation reviews: 8 and 2


def test_a_lightning_module_without_bags_trains_on_the_multi_hot_rows(data_dir):
    """A user's own model, with the run's config (auto) on a CPU: it gets plain tensors."""
    import lightning as L

    class Plain(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(20, 1)
            self.shapes = []
            self.val_shapes = []

        def training_step(self, batch, batch_idx):
            x, y = batch
            self.shapes.append(tuple(x.shape))
            return torch.nn.functional.binary_cross_entropy_with_logits(self.linear(x).squeeze(-1), y)

        def validation_step(self, batch, batch_idx):
            self.val_shapes.append(tuple(batch[0].shape))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = Plain()
    trainer = bare_trainer(max_epochs=1)
    trainer.fit(
        model,
        datamodule=IMDBDataModule(data_dir, val_size=10, batch_size=8, num_words=20, batch_format="auto"),
    )
    assert model.shapes == [(8, 20), (8, 20), (8, 20), (6, 20)]
    assert model.val_shapes == [(8, 20), (2, 20)]


def test_data_modules_of_one_process_share_a_split_only_when_every_split_setting_agrees(data_dir):
    """The in-process memo of prepared splits is keyed on the settings: another validation size or seed is
    another split, not the first one's."""
    first = ready(data_dir, val_size=10)
    assert len(first.splits["val"]) == 10
    resized = ready(data_dir, val_size=12)
    assert (len(resized.splits["val"]), len(resized.splits["train"])) == (12, len(first.splits["train"]) - 2)
    reseeded = ready(data_dir, val_size=10, seed=7)
    assert reseeded.splits["val"].review_ids.tolist() != first.splits["val"].review_ids.tolist()
    again = ready(data_dir, val_size=10)
    assert again.splits["val"].review_ids.tolist() == first.splits["val"].review_ids.tolist()


def test_every_setting_of_the_data_module_is_in_its_config_and_checked_by_a_rule():
    """A setting missing from conf/data/imdb.yaml cannot be set without ``+`` (Hydra refuses it in six lines);
    one without a rule is passed on unchecked."""
    import inspect

    from imdb_lightning.config.files import CONFIG_DIR
    from imdb_lightning.data.settings import DATA_RULES
    from imdb_lightning.utils import safe_yaml

    settings = set(inspect.signature(IMDBDataModule.__init__).parameters) - {"self"}
    config = safe_yaml.parse((CONFIG_DIR / "data" / "imdb.yaml").read_text())
    assert set(config) - {"_target_"} == settings
    # data_dir: a folder, found or refused when the data is looked for
    assert set(DATA_RULES) == settings - {"data_dir"}


def test_the_split_settings_are_the_data_modules_own_and_a_resume_compares_each():
    import inspect

    from imdb_lightning.data.datamodule import SPLIT_SETTINGS
    from imdb_lightning.running.checkpoints import data_mismatch

    parameters = inspect.signature(IMDBDataModule.__init__).parameters
    assert set(SPLIT_SETTINGS) <= set(parameters) and {"val_size", "seed", "num_words"} <= set(SPLIT_SETTINGS)
    saved = {key: parameters[key].default for key in SPLIT_SETTINGS}
    for key in SPLIT_SETTINGS:
        changed = {**saved, key: "other"}
        assert data_mismatch({"datamodule_hyper_parameters": saved}, changed).startswith(f"data.{key}=")
