"""A model summary as Keras prints it: layer, type, output shape, parameters; then total / trainable /
non-trainable. Batch-norm moving statistics count as non-trainable parameters, as in Keras (PyTorch keeps
them as buffers), so the lecture's 160,433 / 64 figures come out the same."""

from __future__ import annotations

from torch import nn

from imdb_lightning.network.layers import Dense
from imdb_lightning.network.model import ACTIVATIONS

# Keras folds the activation into its Dense layer; these modules get no row of their own.
_FOLDED = tuple(ACTIVATIONS.values())
_KERAS_TYPE = {Dense: "Dense", nn.BatchNorm1d: "BatchNormalization", nn.Dropout: "Dropout"}


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, non-trainable): parameters with and without gradients, plus float buffers (moving
    stats)."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    frozen += sum(b.numel() for b in module.buffers() if b.is_floating_point())
    return trainable, frozen


def keras_summary(net: nn.Sequential, name: str = "imdb") -> str:
    rows = []
    width = None
    for layer_name, layer in net.named_children():
        if isinstance(layer, _FOLDED):
            continue
        if isinstance(layer, Dense):
            width = layer.out_features
        trainable, frozen = count_parameters(layer)
        kind = _KERAS_TYPE.get(type(layer), type(layer).__name__)
        rows.append((f"{layer_name} ({kind})", f"(None, {width})", f"{trainable + frozen:,}"))
    trainable, frozen = count_parameters(net)
    total = trainable + frozen
    first = max([40, *(len(a) + 2 for a, _, _ in rows)])  # Keras's width, wider for a long layer name
    rule = "─" * (first + 32)
    lines = [f'Model: "{name}"', rule, f"{'Layer (type)':<{first}}{'Output Shape':<18}{'Param #':>14}", rule]
    lines += [f"{a:<{first}}{b:<18}{c:>14}" for a, b, c in rows]
    lines += [
        rule,
        f"Total params: {total:,} ({total * 4 / 1024:.2f} KB)",
        f"Trainable params: {trainable:,} ({trainable * 4 / 1024:.2f} KB)",
        f"Non-trainable params: {frozen:,} ({frozen * 4 / 1024:.2f} KB)",
    ]
    return "\n".join(lines)
