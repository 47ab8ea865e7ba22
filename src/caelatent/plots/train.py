"""Figures of the training stage."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from . import LAYOUT, figure


def loss_curve(history: dict, loss_name: str):
    epochs = np.asarray(history["epoch"]) + 1
    fig, ax = figure((6, 4))
    ax.plot(epochs, history["loss"], "o-", label="train")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], "s--", label="holdout")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{loss_name.upper()} loss per pixel")
    ax.set_title("Autoencoder training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def reconstruction_grid(originals, reconstructions, ids=None, per_row: int = 8):
    """Pairs of rows: holdout originals (uint8) above their reconstructions (floats in 0..1)."""
    n = len(originals)
    rows = int(np.ceil(n / per_row))
    fig = Figure(figsize=(1.3 * per_row, 2.7 * rows), layout=LAYOUT)
    axes = fig.subplots(2 * rows, per_row, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k in range(n):
        r, c = divmod(k, per_row)
        axes[2 * r, c].imshow(originals[k])
        axes[2 * r + 1, c].imshow(np.clip(reconstructions[k], 0, 1))
        if ids is not None:
            axes[2 * r, c].set_title(f"{int(ids[k]):06d}", fontsize=7)
    for r in range(rows):
        for ax, text in ((axes[2 * r, 0], "original"), (axes[2 * r + 1, 0], "reconstruction")):
            ax.text(
                -0.1,
                0.5,
                text,
                transform=ax.transAxes,
                rotation=90,
                ha="right",
                va="center",
                fontsize=8,
            )
    fig.suptitle("Holdout images and their reconstructions", fontsize=10)
    return fig
