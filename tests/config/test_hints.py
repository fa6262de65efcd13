"""One line, with the close name, for what Hydra answers with a page of options or a second error."""

from __future__ import annotations

import pytest

from imdb_lightning.config.hints import override_hint


@pytest.mark.parametrize(
    ("overrides", "answer"),
    [
        (["+experiment=dropuot"], "experiment has no option dropuot; did you mean dropout?"),
        (["optimizer=ADAM"], "optimizer has no option ADAM; did you mean adam?"),  # case aside
        (
            ["-m", "+experiment=dropout,batchnrom"],
            "experiment has no option batchnrom; did you mean batchnorm?",
        ),  # a sweep's list
        (["scheduler=cosin"], "scheduler has no option cosin; did you mean cosine?"),
        (["model.droput=0.5"], "droput is not a key of model; did you mean model.dropout?"),
        (["optimizer.momentun=0.9"], "momentun is not a key of optimizer; did you mean optimizer.momentum?"),
        (["data.batchsize=64"], "batchsize is not a key of data; did you mean data.batch_size?"),
        (["sed=1"], "sed is not a key of the config; did you mean seed?"),
    ],
)
def test_a_misspelt_option_or_key_is_answered_with_the_close_one(overrides, answer):
    assert override_hint(overrides) == f"{overrides[-1]}: {answer}"


@pytest.mark.parametrize(
    "overrides",
    [
        ["+experiment=dropout", "optimizer=adam", "scheduler=cosine", "model.dropout=0.2", "seed=1"],
        ["-m", "+experiment=glob(*)", "seed=0,1,2"],  # Hydra's sweep functions are Hydra's to read
        ["+model.droput=0.2"],  # a new key on purpose: the model's own check answers it
        ["model.xyz=1"],  # no close key: Hydra's own answer
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.run.dir=out", "--cfg=job"],
        ["+experiment=opt_sgd", "optimizer.nesterov=true"],  # a key another option of the group has
        ["callbacks.keras_history.plots=false", "logger.tensorboard.name=x", "paths.log_dir=/tmp/x"],
        ["hydra.searchpath=[file:///my/conf]", "+experiment=mine"],  # the user's own options
    ],
)
def test_what_is_spelt_right_gets_no_hint(overrides):
    assert override_hint(overrides) is None


def test_an_experiment_without_its_plus_is_told_to_add_it():
    assert override_hint(["experiment=l2"]) == (
        "experiment=l2: an experiment is added to the defaults, with a +: +experiment=l2"
    )
