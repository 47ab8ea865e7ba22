"""Figure of the comparison across experiments."""

from __future__ import annotations

import numpy as np

from ..scoring.columns import FID, GAPS, REALISM
from . import error_bars, subplots


def _yerr(cells) -> np.ndarray:
    """Error bars [2, n] from (value, lo, hi) cells (0 where an end is missing)."""
    return error_bars(*np.asarray(cells, float).reshape(-1, 3).T)


def experiments(spectra: dict, faces: list, names: list[str], labels: list[str]):
    """Eigenvalue spectra of every experiment, and the face rate of each sampler per experiment
    with its 95 % interval (``faces``: [experiment][sampler] cells of (value, lo, hi))."""
    fig, (a1, a2) = subplots(1, 2, (13, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
    for name, ex in spectra.items():
        a1.semilogy(np.arange(1, len(ex) + 1), ex, label=name)
    a1.set_xlabel("principal component")
    a1.set_ylabel("explained variance ratio (log scale)")
    a1.set_title("Eigenvalue spectra")
    a1.legend(fontsize=8)
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        cells = faces[k]
        a2.bar(
            x + k * w,
            [c[0] for c in cells],
            w,
            label=name,
            yerr=_yerr(cells),
            error_kw={"lw": 0.7},
        )
    a2.set_xticks(x + w * (len(names) - 1) / 2, labels, rotation=60, ha="right", fontsize=7)
    a2.set_ylabel("MTCNN face rate (95 % interval)")
    a2.set_ylim(0, 1.05)
    a2.set_title("Face rate per sampler and experiment")
    a2.legend(fontsize=8)
    return fig


#: metrics where lower is better (the colour maps are reversed for them): the distances (KID
#: included), their latent gaps and the FID
LOWER_IS_BETTER = (*(k for k, higher in REALISM.items() if higher is False), *GAPS, FID)


def heatmaps(grids: dict, names: list[str], labels: list[str]):
    """One heat map per metric: experiments down, samplers across, the value and the half-width of
    its 95 % interval in each cell (``grids``: {metric: [experiment][sampler] (value, lo, hi)});
    green is better (reversed for distances). A metric with no values (FID without weights) is
    named as such."""
    fig, axes = subplots(
        len(grids),
        1,
        (max(8, 0.55 * len(labels) + 3), 1.0 + (0.45 * len(names) + 1.1) * len(grids)),
    )
    for ax, (metric, grid) in zip(np.atleast_1d(axes), grids.items()):
        cells = np.asarray(grid, float).reshape(len(names), len(labels), 3)
        values, half = cells[..., 0], (cells[..., 2] - cells[..., 1]) / 2
        if np.isnan(values).all():
            ax.set_axis_off()
            ax.set_title(f"{metric}: not measured in these runs")
            continue
        cmap = "RdYlGn_r" if metric in LOWER_IS_BETTER else "RdYlGn"
        image = ax.imshow(values, cmap=cmap, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                text = f"{v:.3g}" + (f"\n±{half[i, j]:.2g}" if np.isfinite(half[i, j]) else "")
                ax.text(j, i, text, ha="center", va="center", fontsize=5)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_title(metric)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def tradeoff(recon: dict, best: dict):
    """Reconstruction loss against the best cloud sampler's pixel-PCA Fréchet distance (left) and
    face rate (right), one point per experiment, named, with 95 % intervals on both axes.
    ``recon``: {experiment: (value, lo, hi)}; ``best``: {metric: {experiment: (value, lo, hi)}}."""
    fig, (a1, a2) = subplots(1, 2, (11, 4.5))
    for ax, metric in ((a1, "fd_pixels"), (a2, "face_rate")):
        for name, y in best[metric].items():
            x = recon[name]
            ax.errorbar(x[0], y[0], xerr=_yerr([x]), yerr=_yerr([y]), fmt="o", capsize=2, lw=0.8)
            ax.annotate(name, (x[0], y[0]), fontsize=8, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("holdout reconstruction loss (last epoch)")
        ax.set_ylabel(f"best cloud sampler's {metric}")
    a1.set_title("Reconstruction against sampling: distance")
    a2.set_title("Reconstruction against sampling: face rate")
    return fig
