"""Figures of the training stage."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def loss_curve(history: dict, path: str | os.PathLike, loss_name: str) -> None:
    epochs = np.asarray(history["epoch"]) + 1
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history["loss"], "o-", label="train")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], "s--", label="holdout")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{loss_name.upper()} loss per pixel")
    ax.set_title("Autoencoder training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reconstruction_grid(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    path: str | os.PathLike,
    ids: np.ndarray | None = None,
    per_row: int = 8,
) -> None:
    """Pairs of rows: holdout originals above their reconstructions."""
    n = len(originals)
    rows = int(np.ceil(n / per_row))
    fig, axes = plt.subplots(2 * rows, per_row, figsize=(1.3 * per_row, 2.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k in range(n):
        r, c = divmod(k, per_row)
        axes[2 * r, c].imshow(originals[k])
        axes[2 * r + 1, c].imshow(np.clip(reconstructions[k], 0, 1))
        if ids is not None:
            axes[2 * r, c].set_title(f"{int(ids[k]):06d}", fontsize=7)
    for r in range(rows):
        axes[2 * r, 0].text(
            -0.1,
            0.5,
            "original",
            transform=axes[2 * r, 0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=8,
        )
        axes[2 * r + 1, 0].text(
            -0.1,
            0.5,
            "reconstruction",
            transform=axes[2 * r + 1, 0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=8,
        )
    fig.suptitle("Holdout images and their reconstructions", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
