"""Figures of the generation and evaluation stages."""

from __future__ import annotations

import numpy as np

from . import error_bars, subplots


def sample_grid(images, title: str, rows: int, cols: int, labels=None):
    """Decoded images in a rows x cols grid, each optionally labelled."""
    fig, axes = subplots(rows, cols, figsize=(1.45 * cols, 1.6 * rows + 0.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k])
            if labels is not None:
                ax.set_title(labels[k], fontsize=6)
    fig.suptitle(title, fontsize=9)
    return fig


#: panels of the sampler summary: column(s), axis title, y limits
PANELS = [
    ("face_rate", "MTCNN face rate", (0, 1.05)),
    (("precision_onet", "recall_onet"), "precision / recall\n(MTCNN-ONet features)", (0, 1.05)),
    (("precision_pixels", "recall_pixels"), "precision / recall\n(pixel PCA)", (0, 1.05)),
    ("fd_onet", "Fréchet distance\n(MTCNN-ONet features, log)", None),
    ("fd_pixels", "Fréchet distance\n(pixel PCA, log)", None),
    ("kid_pixels", "KID (pixel PCA;\n0 for one law)", None),
    ("gap_fd_pixels", "latent gap: FD (pixel PCA)\nminus reconstructions'", None),
    ("diversity", "diversity\n(pairwise distance / real's)", None),
    ("inside_3sigma", "fraction inside\nthe 3σ ellipsoid", (0, 1.05)),
    ("nn_distance_ratio", "nearest-training-latent\ndistance / holdout's", None),
]


def _errors(table: dict, key: str):
    """Error bars from the ``<key>_lo`` / ``<key>_hi`` columns (None where there are none)."""
    if f"{key}_lo" not in table:
        return None
    return error_bars(table[key], table[f"{key}_lo"], table[f"{key}_hi"])


def sampler_summary(table: dict, references):
    """One bar panel per metric, a bar per sampler and setting, each with its 95 % interval where
    the table has one; the references in grey.

    ``table`` holds the columns of ``summary.tsv``."""
    samplers, settings = [str(v) for v in table["sampler"]], [str(v) for v in table["setting"]]
    labels = [f"{a} {b}" if b != "-" else a for a, b in zip(samplers, settings)]
    x = np.arange(len(labels))
    colors = ["tab:gray" if a in references else "tab:blue" for a in samplers]
    fig, axes = subplots(
        len(PANELS), 1, figsize=(max(8, 0.55 * len(labels)), 2.1 * len(PANELS) + 1.5), sharex=True
    )
    for ax, (key, title, ylim) in zip(axes, PANELS):
        if isinstance(key, tuple):
            for off, k, hatch in ((-0.2, key[0], None), (0.2, key[1], "//")):
                ax.bar(
                    x + off,
                    table[k],
                    width=0.4,
                    color=colors,
                    hatch=hatch,
                    edgecolor="white",
                    label=k.split("_")[0],
                    yerr=_errors(table, k),
                    error_kw={"lw": 0.8},
                )
            ax.legend(fontsize=7, loc="upper right")
        else:
            ax.bar(x, table[key], color=colors, yerr=_errors(table, key), error_kw={"lw": 0.8})
            if key.startswith(("gap_", "kid_")):
                ax.axhline(0.0, color="k", lw=0.8)
        if key in ("fd_onet", "fd_pixels"):
            ax.set_yscale("log")
        if key == "diversity":
            ax.axhline(1.0, color="k", lw=0.8, ls="--")
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_ylabel(title, fontsize=8)
    axes[-1].set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    fig.suptitle(
        f"Samplers against the references (grey): {int(table['n'][0])} images each,\n"
        f"compared with {int(table['n_reference'][0])} other real holdout images; "
        "bars: 95 % intervals",
        fontsize=10,
    )
    return fig
