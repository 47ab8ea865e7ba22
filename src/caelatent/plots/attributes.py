"""Figures of the attributes stage."""

from __future__ import annotations

import numpy as np

from . import grid, subplots


def innermost_maps(images, maps, layer: str, steps: int):
    """The input that maximises each innermost map, contrast stretched, in rows of up to 16."""
    n = len(maps)
    fig, axes = grid(n, cols=min(16, n), size=(1.0, 1.15))
    for k, ax in enumerate(list(axes)[:n]):
        lo, hi = np.percentile(images[k], [1, 99])
        ax.imshow(np.clip((images[k] - lo) / max(hi - lo, 1e-6), 0, 1))
        ax.set_title(str(maps[k]), fontsize=6)
        ax.axis("off")
    fig.suptitle(
        f"Inputs that maximise each map of {layer} (the encoder's innermost layer; "
        f"{steps} ascent steps, contrast stretched)",
        fontsize=8,
    )
    fig.tight_layout()
    return fig


def ascent_traces(trace):
    """Each target map's mean activation over the ascent steps, and their mean."""
    fig, ax = subplots(figsize=(6, 3.5))
    ax.plot(trace, color="tab:blue", alpha=0.25, lw=0.8)
    ax.plot(trace.mean(axis=1), color="k", lw=2, label="mean over maps")
    ax.set_xlabel("ascent step")
    ax.set_ylabel("mean activation of the target map")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
