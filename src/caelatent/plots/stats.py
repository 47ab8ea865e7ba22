"""Figures of the statistics stage (rules component_plots ... origin_plots)."""

from __future__ import annotations

import numpy as np
from scipy import stats as st

from ..latent.describe import gauss
from . import figure, grid, subplots


def component_histograms(table: dict, counts, edges, shown: list[int], n: int):
    """Histograms of the ``shown`` components with Gaussian fits."""
    fig, axes = grid(len(shown))
    for ax, i in zip(axes, shown):
        x = 0.5 * (edges[i, :-1] + edges[i, 1:])
        width = edges[i, 1] - edges[i, 0]
        ax.bar(x, counts[i], width=width, color="tab:blue", alpha=0.6, label="latents")
        a, mu, s = (table[k][i] for k in ("fit_amplitude", "fit_mean", "fit_sigma"))
        fit = f"Gaussian fit\nμ={mu:.2f} σ={s:.2f}"
        ax.plot(x, gauss(x, a, mu, s), "r-", lw=1.2, label=fit)
        ax.set_title(f"component {i}", fontsize=9)
        ax.set_xlabel("value")
        ax.set_ylabel("count")
        ax.legend(fontsize=6)
    fig.suptitle(f"Component histograms with Gaussian fits (N = {n:,} vectors)", fontsize=10)
    return fig


def component_overlay(counts, edges, dominant: set[int]):
    """Every component's density; the dominant ones in red."""
    fig, ax = figure((7, 4.5))
    for i in range(len(counts)):
        x = 0.5 * (edges[i, :-1] + edges[i, 1:])
        density = counts[i] / counts[i].sum() / (edges[i, 1] - edges[i, 0])
        colour = "tab:red" if i in dominant else "tab:gray"
        ax.plot(x, density, lw=0.5, alpha=0.5, color=colour)
    ax.set_xlabel("component value")
    ax.set_ylabel("density")
    ax.set_title(f"All {len(counts)} component distributions (dominant ones in red)")
    return fig


def dominant_components(table: dict, dominant, mean_factor: float, sigma_factor: float):
    """Mean against sigma of every component, the dominant ones marked."""
    fig, ax = figure((6, 4.5))
    ax.scatter(table["mean"], table["sigma"], s=8, color="tab:gray", label="component")
    dom_mean, dom_sigma = table["mean"][dominant], table["sigma"][dominant]
    ax.scatter(dom_mean, dom_sigma, s=14, color="tab:red", label="dominant")
    for i in dominant[:15]:
        ax.annotate(str(i), (table["mean"][i], table["sigma"][i]), fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("mean")
    ax.set_ylabel("sigma")
    ax.set_title(
        f"Dominant components: |mean| > {mean_factor:g}×median or σ > {sigma_factor:g}×median",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return fig


def radius_distributions(r0, rc, uniform: dict, best: float, dim: int):
    """Radii of the latents (from the origin and the centre) against uniform boxes' radii."""
    fig, ax = figure((8, 4.8))
    hi = max(r0.max(), max(u.max() for u in uniform.values()))
    bins = np.linspace(0, hi * 1.02, 150)
    ax.hist(r0, bins=bins, density=True, alpha=0.6, color="tab:blue", label="latents: |z|")
    ax.hist(
        rc, bins=bins, density=True, alpha=0.5, color="tab:green", label="latents: |z − centre|"
    )
    for b, u in uniform.items():
        label = f"uniform [−{b:g}, {b:g}]^{dim}" + (" (best overlap)" if b == best else "")
        ax.hist(
            u, bins=bins, density=True, histtype="step", lw=1.3 if b == best else 0.8, label=label
        )
    samples = len(next(iter(uniform.values())))
    ax.set_xlabel("Euclidean radius")
    ax.set_ylabel("density")
    ax.set_title(f"Radius distributions (N = {len(r0):,}; {samples:,} uniform vectors per b)")
    ax.legend(fontsize=7)
    return fig


def correlation_matrix(r, n: int):
    fig, ax = figure((6.5, 5.5))
    im = ax.imshow(r, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="Pearson r")
    ax.set_xlabel("component")
    ax.set_ylabel("component")
    ax.set_title(f"Correlation matrix of the {len(r)} latent components (N = {n:,})")
    return fig


def correlated_pairs(drawn: dict):
    """Scatter plots of component pairs (``drawn``: :func:`caelatent.latent.describe.pair_scatter`'s arrays):
    drawn latents, uniform vectors, origin, centre, one image."""
    col = {int(c): k for k, c in enumerate(drawn["components"])}
    pts, uni, b = drawn["points"], drawn["uniform"], float(drawn["uniform_b"])
    fig, axes = grid(len(drawn["pairs"]), cols=3, size=(4, 3.6))
    for ax, (i, j), r in zip(axes, drawn["pairs"], drawn["r"]):
        a, c = col[int(i)], col[int(j)]
        label = f"uniform [−{b:g}, {b:g}]"
        ax.scatter(uni[:, a], uni[:, c], s=2, color="tab:orange", alpha=0.3, label=label)
        label = f"latents ({len(pts):,} drawn)"
        ax.scatter(pts[:, a], pts[:, c], s=2, color="tab:blue", alpha=0.3, label=label)
        ax.plot(0, 0, "k+", ms=12, mew=2, label="origin")
        ax.plot(drawn["centre"][a], drawn["centre"][c], "rx", ms=10, mew=2, label="centre")
        label = f"image #{int(drawn['chosen_image'])}"
        ax.plot(drawn["chosen"][a], drawn["chosen"][c], "g*", ms=12, label=label)
        ax.set_xlabel(f"z[{i}]")
        ax.set_ylabel(f"z[{j}]")
        ax.set_title(f"r = {r:+.2f}", fontsize=9)
    axes[0].legend(fontsize=6, markerscale=1, loc="best")
    fig.suptitle("Most correlated component pairs", fontsize=10)
    return fig


def pca_spectrum(eigenvalues, cumulative, need: dict):
    fig, (a1, a2) = subplots(1, 2, (11, 4.2))
    k = np.arange(1, len(eigenvalues) + 1)
    a1.semilogy(k, eigenvalues, ".-")
    a1.set_xlabel("principal component")
    a1.set_ylabel("eigenvalue (variance, log scale)")
    a1.set_title("Eigenvalue spectrum")
    a2.plot(k, np.asarray(cumulative) * 100)
    for lvl, c in need.items():
        a2.axvline(c, ls="--", lw=0.8, color="gray")
        a2.annotate(f"{lvl}: {c}", (c, float(lvl[:-1])), fontsize=8)
    a2.set_xlabel("number of components")
    a2.set_ylabel("cumulative explained variance (%)")
    a2.set_title("Cumulative explained variance")
    return fig


def _histograms(drawn: dict):
    """(plane, counts, x edges, y edges) of :func:`caelatent.latent.describe.stacked_histograms`' arrays."""
    keys = ("planes", "counts", "x_edges", "y_edges")
    return zip(*(drawn[k] for k in keys))


def pca_planes(drawn: dict, ratio):
    """2-D histograms (log counts) of all vectors on principal planes."""
    fig, axes = grid(len(drawn["planes"]), cols=3, size=(4, 3.6))
    for ax, ((i, j), h, ex, ey) in zip(axes, _histograms(drawn)):
        ax.pcolormesh(ex, ey, np.log1p(h.T), cmap="viridis")
        ax.set_xlabel(f"PC{i + 1} ({ratio[i] * 100:.1f}%)")
        ax.set_ylabel(f"PC{j + 1} ({ratio[j] * 100:.1f}%)")
        ax.set_title("log(1 + count), all vectors", fontsize=8)
    fig.suptitle("Projections onto principal planes", fontsize=10)
    return fig


def mnd_contours(drawn: dict):
    """Empirical density contours of equal mass against the fitted normal's sigma ellipses
    (``drawn``: :func:`caelatent.latent.describe.normal_projections`' arrays)."""
    fig, axes = grid(len(drawn["planes"]), cols=2, size=(4.6, 4.2))
    per_plane = zip(_histograms(drawn), drawn["levels"], drawn["ellipses"], drawn["r"])
    for ax, (((i, j), h, ex, ey), levels, ellipses, r) in zip(axes, per_plane):
        cx, cy = 0.5 * (ex[:-1] + ex[1:]), 0.5 * (ey[:-1] + ey[1:])
        levels = levels[~np.isnan(levels)]
        if len(levels) >= 2:
            ax.contour(cx, cy, h.T, levels=levels, colors="tab:blue", linewidths=1)
        for k, e in zip(drawn["sigma_levels"], ellipses):
            ax.plot(e[:, 0], e[:, 1], "r--", lw=0.9)
            ax.annotate(f"{k:g}σ", e[0], fontsize=7, color="r")
        ax.plot(0, 0, "k+", ms=10)
        ax.set_xlabel(f"z[{i}]")
        ax.set_ylabel(f"z[{j}]")
        ax.set_title(f"r = {r:+.2f}", fontsize=8)
    fig.suptitle(
        "Empirical density contours (blue, same mass) vs fitted normal's 1, 2, 2.5, 3σ ellipses (red)",
        fontsize=9,
    )
    return fig


def mnd_marginals(drawn: dict):
    """The planes' components' histograms against the fitted normal's density."""
    comps = drawn["marginal_components"]
    fig, axes = grid(len(comps), cols=4)
    per = zip(comps, drawn["marginal_counts"], drawn["marginal_edges"], drawn["marginal_normal"])
    for ax, (c, counts, ex, normal) in zip(axes, per):
        x = 0.5 * (ex[:-1] + ex[1:])
        ax.bar(x, counts / counts.sum() / (ex[1] - ex[0]), width=ex[1] - ex[0], alpha=0.6)
        ax.plot(x, normal, "r-", lw=1)
        ax.set_xlabel(f"z[{c}]")
        ax.set_ylabel("density")
    fig.suptitle("1-D marginals against the fitted normal's", fontsize=10)
    return fig


def mnd_qq(qq: dict, dim: int, core_sigma: float, tested: dict, n: int):
    """The core's d² quantiles against its truncated chi-square law, in the null's 95 % band."""
    fig, ax = figure((5.5, 5))
    theo = qq["theoretical"]
    band = f"95 % of {int(qq['null_runs'])} normal clouds"
    ax.fill_between(theo, qq["null_low"], qq["null_high"], color="0.8", label=band)
    ax.plot(theo, qq["observed"], ".", ms=3, label="latents' core")
    ax.plot(theo[[0, -1]], theo[[0, -1]], "k--", lw=0.8, label="y = x")
    ax.set_xlabel(f"χ²({dim}) quantile, truncated at the {core_sigma:g}σ shell")
    ax.set_ylabel("core's Mahalanobis d² quantile")
    of = "" if tested["n"] == n else f"; a random {tested['n']:,} of {n:,}"
    ax.set_title(
        f"Core d² vs its law ({tested['n_core']:,} of {tested['n']:,} vectors inside{of})",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return fig


def mnd_shells(shells: dict):
    """Fraction of vectors inside each sigma shell: latents against a normal cloud."""
    fig, ax = figure((5.5, 4))
    x, w = np.arange(len(shells["sigma"])), 0.35
    label = "normal distribution (exact law of in-sample d²)"
    ax.bar(x - w / 2, np.asarray(shells["expected_fraction"]) * 100, w, label=label)
    ax.bar(x + w / 2, np.asarray(shells["observed_fraction"]) * 100, w, label="latents")
    ax.set_xticks(x, [f"{k:g}σ" for k in shells["sigma"]])
    ax.set_xlabel("shell (same probability as ±kσ in 1-D)")
    ax.set_ylabel("vectors inside (%)")
    ax.set_title("Fraction inside each sigma shell")
    ax.legend(fontsize=8)
    return fig


def origin_position(d, d0: float, pct: float, dim: int, where: str):
    """Mahalanobis distances of the vectors, the chi law of a normal cloud, and the origin's."""
    fig, ax = figure((6.5, 4))
    ax.hist(d, bins=120, density=True, alpha=0.6, label="latent vectors")
    x = np.linspace(0, max(d.max(), d0) * 1.05, 300)
    ax.plot(x, st.chi.pdf(x, dim), "r-", lw=1, label=f"χ({dim}) (normal cloud)")
    ax.axvline(d0, color="k", ls="--", label=f"origin: {d0:.1f} ({pct:.1f} percentile)")
    ax.set_xlabel("Mahalanobis distance from the centre")
    ax.set_ylabel("density")
    ax.set_title(f"Where the origin sits: {where}", fontsize=9)
    ax.legend(fontsize=8)
    return fig
