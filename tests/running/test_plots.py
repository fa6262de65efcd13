"""The figures a student reads: curves that stay readable when one run's loss dwarfs the others', when two
runs coincide, and with the training curves beside the validation ones."""

from __future__ import annotations

from imdb_lightning.running.plots import LOG_SCALE_SPAN, compare_figure, history_figure


def history(val_loss: list[float], loss: list[float] | None = None, acc: float = 0.8) -> dict:
    loss = loss or [v * 0.8 for v in val_loss]
    n = len(val_loss)
    return {"loss": loss, "accuracy": [acc] * n, "val_loss": val_loss, "val_accuracy": [acc - 0.05] * n}


def test_a_loss_that_dwarfs_the_others_puts_the_panel_on_a_log_scale_and_says_so():
    calm = {"glorot": [history([0.5, 0.4, 0.45])], "he": [history([0.55, 0.42, 0.5])]}
    fig = compare_figure(calm)
    assert fig.axes[0].get_yscale() == "linear" and fig.axes[0].get_ylabel() == "Loss"
    wild = {**calm, "too_large": [history([25.0, 21.0, 18.0])]}  # init_too_large's loss, ~25
    assert 25.0 / 0.4 > LOG_SCALE_SPAN
    fig = compare_figure(wild)
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_ylabel() == "Loss (log scale)"
    assert fig.axes[1].get_yscale() == "linear"  # accuracy stays as it is


def test_runs_that_coincide_stay_distinguishable():
    flat = history([0.6931] * 3, acc=0.5053)
    fig = compare_figure({"zeros": [flat], "too_small": [dict(flat)], "glorot": [history([0.5, 0.4, 0.45])]})
    lines = fig.axes[1].lines
    assert [line.get_label() for line in lines] == ["zeros", "too_small (the same curves as zeros)", "glorot"]
    assert len({line.get_marker() for line in lines}) == 3  # one marker each: the hidden one shows


def test_with_training_each_validation_curve_has_its_training_curve_beside_it_dashed_in_its_colour():
    runs = {
        "baseline": [history([0.5, 0.4, 0.45], loss=[0.45, 0.3, 0.2])],
        "dropout": [history([0.52, 0.44, 0.4])],
    }
    fig = compare_figure(runs, training=True)
    ax = fig.axes[0]
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(solid) == len(dashed) == 2
    assert [list(line.get_ydata()) for line in dashed][0] == [0.45, 0.3, 0.2]
    assert [line.get_color() for line in solid] == [line.get_color() for line in dashed]
    assert fig.get_suptitle() == "training curves dashed"
    assert compare_figure(runs, title="regularization", training=True).get_suptitle() == (
        "regularization; training curves dashed"
    )
    assert len(compare_figure(runs).axes[0].lines) == 2  # without it, validation only


def test_a_runs_own_figure_names_its_configuration_under_the_lectures_title():
    fig = history_figure(history([0.5, 0.4]), ["loss"], title="dropout (seed 3)")
    assert fig.axes[0].get_title() == "Training and validation loss\ndropout (seed 3)"
    assert history_figure(history([0.5, 0.4]), ["loss"]).axes[0].get_title() == "Training and validation loss"


def test_a_runs_figure_puts_its_title_where_matplotlibs_automatic_place_would():
    import numpy as np

    from imdb_lightning.running.plots import figure_pixels

    drawn = history_figure(history([0.5, 0.4, 0.45]), ["loss"], title="dropout (seed 3)")
    automatic = history_figure(history([0.5, 0.4, 0.45]), ["loss"], title="dropout (seed 3)")
    assert automatic.axes[0]._autotitlepos is False  # matplotlib's flag (private): an explicit place
    automatic.axes[0]._autotitlepos = True  # matplotlib's place, found by measuring the panel's artists
    assert np.array_equal(figure_pixels(drawn), figure_pixels(automatic))
