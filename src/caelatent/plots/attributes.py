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
    return fig


def ascent_traces(trace):
    """Each target map's mean activation over the ascent steps, and their mean."""
    fig, ax = subplots(figsize=(6, 3.5))
    ax.plot(trace, color="tab:blue", alpha=0.25, lw=0.8)
    ax.plot(trace.mean(axis=1), color="k", lw=2, label="mean over maps")
    ax.set_xlabel("ascent step")
    ax.set_ylabel("mean activation of the target map")
    ax.legend(fontsize=7)
    return fig


def direction_cosines(cos, labels):
    """Heat map: cosine of each attribute direction (rows) with each principal axis (columns)."""
    n_attr, pcs = cos.shape
    fig, ax = subplots(figsize=(0.32 * pcs + 3.5, 0.3 * n_attr + 1.6))
    im = ax.imshow(cos, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(pcs), [str(k + 1) for k in range(pcs)], fontsize=7)
    ax.set_yticks(range(n_attr), labels, fontsize=7)
    ax.set_xlabel("principal axis (by decreasing variance)")
    fig.colorbar(im, ax=ax, label="cosine of attribute direction with the axis")
    ax.set_title("Attribute directions projected onto the principal axes", fontsize=10)
    return fig


def attribute_radii(names, with_, without, shell_radius: float, n: int, excluded: int):
    """Violins of the Mahalanobis radius of the images with and without each attribute."""
    fig, ax = subplots(figsize=(7, 0.32 * len(names) + 1.6))
    y_pos = np.arange(len(names))[::-1]
    for data, off, color, label in (
        (with_, 0.2, "tab:red", "with"),
        (without, -0.2, "tab:blue", "without"),
    ):
        parts = ax.violinplot(
            data,
            positions=y_pos + off,
            widths=0.38,
            showmedians=True,
            showextrema=False,
            orientation="horizontal",
        )
        for b in parts["bodies"]:
            b.set_facecolor(color)
            b.set_alpha(0.5)
        parts["cmedians"].set_color(color)
        ax.plot([], [], color=color, lw=6, alpha=0.5, label=f"{label} the attribute")
    ax.axvline(shell_radius, color="k", ls="--", lw=1, label="3σ shell of the fitted normal")
    ax.set_yticks(y_pos, names, fontsize=7)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xlabel("Mahalanobis radius")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(
        f"Where each attribute's images lie in the fitted normal\n({n} images; "
        f"{excluded} without attribute rows excluded)",
        fontsize=9,
    )
    return fig


def attribute_histograms(proj, columns: dict, variances):
    """Projections on the leading principal axes of the images with and without each attribute
    (``columns``: name -> +1/-1 per image), against the fitted normal's."""
    names, pcs = list(columns), proj.shape[1]
    fig, axes = subplots(
        max(1, len(names)), pcs, figsize=(2.6 * pcs, 2.0 * len(names) + 0.6), squeeze=False
    )
    for r, name in enumerate(names):
        for c in range(pcs):
            ax = axes[r, c]
            edges = np.linspace(*np.percentile(proj[:, c], [0.5, 99.5]), 41)
            for v, color in ((1, "tab:red"), (-1, "tab:blue")):
                sel = columns[name] == v
                ax.hist(proj[sel, c], bins=edges, density=True, histtype="step", color=color)
            s = np.sqrt(variances[c])
            xs = np.linspace(edges[0], edges[-1], 200)
            ax.plot(xs, np.exp(-0.5 * (xs / s) ** 2) / (s * np.sqrt(2 * np.pi)), "k:", lw=1)
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"PC {c + 1}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    axes[0, 0].plot([], [], color="tab:red", label="with")
    axes[0, 0].plot([], [], color="tab:blue", label="without")
    axes[0, 0].plot([], [], "k:", label="fitted normal")
    axes[0, 0].legend(fontsize=6)
    fig.suptitle(
        "Images with and without each attribute along the leading principal axes", fontsize=9
    )
    return fig


def arithmetic_grid(images, confidence, found, values, label: str, row_titles, title: str):
    """Decoded latent arithmetic, framed green where MTCNN finds a face and red where not."""
    n_rows, n_cols = images.shape[:2]
    fig, axes = subplots(
        n_rows, n_cols, figsize=(1.3 * n_cols + 0.8, 1.45 * n_rows + 0.7), squeeze=False
    )
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(images[r, c])
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("tab:green" if found[r, c] else "tab:red")
                spine.set_linewidth(2)
            text = f"{confidence[r, c]:.2f}" if found[r, c] else "no face"
            ax.set_xlabel(text, fontsize=6, labelpad=1)
            if r == 0:
                ax.set_title(f"{label}={values[c]:+.2f}", fontsize=7)
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=6)
    fig.suptitle(
        title + "\n(frame: MTCNN finds a face (green) or not (red); number: its confidence)",
        fontsize=8,
    )
    return fig
