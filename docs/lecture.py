# %% [markdown]
# # Regularizing and optimizing a small network on IMDB, with imdb_lightning
#
# The lecture's notebook, section by section, with this package: each experiment is one call,
# `il.run(...)`, which runs exactly what `python -m imdb_lightning ...` runs and returns the Keras
# `History` (`result.history`), the test metrics and the trained model. `docs/lecture.ipynb` is made
# from this file by `python scripts/build_lecture_notebook.py` (its outputs come from that run).
#
# The data come from the folder named by `IMDB_LIGHTNING_DATA` (with `aclImdb_labelled.tar.gz` and
# `imdb_word_index.json`), or are downloaded once into the cache.

# %%
import os

import imdb_lightning as il

# The lecture trains for 20 epochs; a quick look (or the test that runs this notebook) can ask for fewer.
EPOCHS = int(os.environ.get("IMDB_LIGHTNING_LECTURE_EPOCHS", "20"))
EPOCHS_OVERRIDE = f"trainer.max_epochs={EPOCHS}"

# %% [markdown]
# ## The data
#
# `load_data` returns Keras's own arrays: each review a list of word ids (rank in the word index + 3;
# 0 = padding, 1 = start, 2 = out of vocabulary), labels 1 = positive. The model sees each review as a
# multi-hot row of 10,000 zeros and ones.

# %%
from imdb_lightning.data import decode_review, load_data, load_word_index

(train_data, train_labels), (test_data, test_labels) = load_data(num_words=10000)
print(len(train_data), "training and", len(test_data), "test reviews")
print("first review, first ids:", train_data[0][:12], "label:", train_labels[0])
print(decode_review(train_data[0], load_word_index())[:300], "...")

# %% [markdown]
# ## The baseline
#
# Dense(16, relu) → Dense(16, relu) → Dense(1, sigmoid), RMSprop(1e-3), batch 512, 10,000 validation
# reviews held out. Its validation accuracy peaks after a few epochs; the validation loss then climbs while
# the training loss keeps falling: overfitting.

# %%
baseline = il.run("+experiment=baseline", EPOCHS_OVERRIDE)
baseline.plot()

# %%
print(
    "test [loss, accuracy]:",
    [round(baseline.metrics["test/loss"], 4), round(baseline.metrics["test/acc"], 4)],
)
baseline.history["val_accuracy"][:5]

# %% [markdown]
# ## Regularization
#
# Dropout(0.5) after each hidden layer, batch normalization, and L1 / L2 / L1+L2 weight penalties on the
# hidden kernels, each against the baseline. Dropout and L2 hold the validation loss down for longer.

# %%
# The experiments of each section, in the lecture's order, as their config files list them.
print(il.experiments("regularization"))
regularized = [
    il.run(f"+experiment={name}", EPOCHS_OVERRIDE, quiet=True)
    for name in il.experiments("regularization")
    if name != "baseline"
]
for result in regularized:
    print(result)
il.plot_histories([baseline, *regularized], title="regularization")

# %% [markdown]
# ## Initialization
#
# The kernel initializer decides whether the network learns at all: all zeros never breaks the symmetry
# (the hidden layers get no gradient), weights too small vanish, weights too large explode; He, LeCun
# ("Xavier") and Glorot scale the weights by the layer's fan. TensorBoard's histograms and `grad_norm/`
# curves (`tensorboard --logdir logs/runs`) show why for each run.

# %%
initializers = [
    il.run(f"+experiment={name}", EPOCHS_OVERRIDE, quiet=True) for name in il.experiments("initialization")
]
for result in initializers:
    print(result)
il.plot_histories(initializers, title="initialization")

# %% [markdown]
# ## Optimizers
#
# The same network trained by each optimizer at the lecture's learning rates, with Keras's defaults
# (epsilons, momentum, decay) rather than PyTorch's, so that the curves compare with the lecture's.

# %%
optimizers = [il.run(f"+experiment={name}", EPOCHS_OVERRIDE, quiet=True) for name in il.experiments("optimizers")]
for result in optimizers:
    print(result)
il.plot_histories(optimizers, title="optimizers")

# %% [markdown]
# ## Beyond the lecture: seeds
#
# One run per configuration can mislead: a sweep over seeds draws each configuration as its mean with a
# ±1 standard deviation band, and `load_sweep` reads the sweep folder back as a table (a pandas DataFrame
# when pandas is installed). The same folder is what `python -m imdb_lightning.report` summarizes.

# %%
seeds = il.sweep("+experiment=baseline,dropout,l2", "seed=0,1,2", EPOCHS_OVERRIDE, quiet=True)
il.plot_histories(seeds, title="three seeds each")

# %%
table = il.load_sweep(seeds.folder)
columns = ["configuration", "seed", "status", "best_val_acc", "best_epoch", "final_val_loss", "test_acc"]
table[columns] if hasattr(table, "loc") else [{k: row[k] for k in columns} for row in table]
