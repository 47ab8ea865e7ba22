"""Figure of the comparison across experiments."""

from __future__ import annotations

import numpy as np

from . import subplots


def experiments(spectra: dict, faces: dict, names: list[str]):
    """Eigenvalue spectra of every experiment, and the face rate of each sampler per experiment."""
    fig, (a1, a2) = subplots(1, 2, (13, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
    for name, ex in spectra.items():
        a1.semilogy(np.arange(1, len(ex) + 1), ex, label=name)
    a1.set_xlabel("principal component")
    a1.set_ylabel("explained variance ratio (log scale)")
    a1.set_title("Eigenvalue spectra")
    a1.legend(fontsize=8)
    labels = list(faces)
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        a2.bar(x + k * w, [faces[lab].get(name, np.nan) for lab in labels], w, label=name)
    a2.set_xticks(x + w * (len(names) - 1) / 2, labels, rotation=60, ha="right", fontsize=7)
    a2.set_ylabel("MTCNN face rate")
    a2.set_ylim(0, 1.05)
    a2.set_title("Face rate per sampler and experiment")
    a2.legend(fontsize=8)
    return fig


#: metrics where lower is better (the colour maps are reversed for them)
LOWER_IS_BETTER = ("fd_pixels", "fd_onet", "fid_keras_inceptionv3")


def heatmaps(grids: dict, names: list[str], labels: list[str]):
    """One heat map per metric: experiments down, samplers across, the value in each cell; green
    is better (reversed for distances). A metric with no values (FID without weights) is named
    as such."""
    fig, axes = subplots(
        len(grids),
        1,
        (max(8, 0.55 * len(labels) + 3), 1.0 + (0.45 * len(names) + 1.1) * len(grids)),
    )
    for ax, (metric, grid) in zip(np.atleast_1d(axes), grids.items()):
        values = np.asarray(grid, float)
        if np.isnan(values).all():
            ax.set_axis_off()
            ax.set_title(f"{metric}: not measured in these runs")
            continue
        cmap = "RdYlGn_r" if metric in LOWER_IS_BETTER else "RdYlGn"
        image = ax.imshow(values, cmap=cmap, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=6)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_title(metric)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def tradeoff(recon: dict, best: dict):
    """Reconstruction loss against the best cloud sampler's pixel-PCA Fréchet distance (left) and
    face rate (right), one point per experiment, named. ``best``: {metric: {experiment: value}}."""
    fig, (a1, a2) = subplots(1, 2, (11, 4.5))
    for ax, metric in ((a1, "fd_pixels"), (a2, "face_rate")):
        for name, y in best[metric].items():
            ax.scatter(recon[name], y)
            ax.annotate(
                name, (recon[name], y), fontsize=8, xytext=(3, 3), textcoords="offset points"
            )
        ax.set_xlabel("holdout reconstruction loss (last epoch)")
        ax.set_ylabel(f"best cloud sampler's {metric}")
    a1.set_title("Reconstruction against sampling: distance")
    a2.set_title("Reconstruction against sampling: face rate")
    return fig
