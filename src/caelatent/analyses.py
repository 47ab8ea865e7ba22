"""One function per statistics rule: read ``latents.zarr`` (+ moments), write tables and figures."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import zarr  # noqa: E402
from scipy import stats as st  # noqa: E402

from . import normality, stats  # noqa: E402
from .store import atomic_path  # noqa: E402

log = logging.getLogger(__name__)


# analyses that pass over the latents many times read them into memory up to this size (CelebA's
# 202,599 x 256 float32 latents are 207 MB)
IN_MEMORY_BYTES = 512 << 20


def open_z(latents) -> zarr.Array:
    return zarr.open_group(latents, mode="r")["z"]


def write_tsv(path, columns: dict) -> None:
    keys = list(columns)
    n = len(columns[keys[0]])
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write("\t".join(keys) + "\n")
        for i in range(n):
            f.write("\t".join(_fmt(columns[k][i]) for k in keys) + "\n")


def write_json(path, obj) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")


def save_fig(fig, path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def _jsonable(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def _grid(n: int, cols: int = 4, size=(3.2, 2.6)):
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


# --- rule moments -------------------------------------------------------------------------------


def run_moments(latents, out_npz) -> stats.Moments:
    z = open_z(latents)
    mom = stats.moments(z)
    with atomic_path(out_npz) as tmp:
        with open(tmp, "wb") as f:
            mom.save(f)
    log.info("moments of %d vectors in %d dimensions", mom.n, len(mom.mean))
    return mom


# --- rule components ----------------------------------------------------------------------------


def run_components(
    latents,
    moments_npz,
    out_table,
    out_dominant,
    out_histograms,
    *,
    bins: int,
    mean_factor: float,
    sigma_factor: float,
):
    """Per-component table, dominant components, and the histograms (for :func:`plot_components`)."""
    z, mom = open_z(latents), stats.Moments.load(moments_npz)
    table, counts, edges = stats.component_table(z, mom, bins)
    dom = stats.dominant_components(table["mean"], table["sigma"], mean_factor, sigma_factor)
    write_tsv(out_table, table)
    c = dom["components"]
    write_tsv(
        out_dominant,
        {
            "component": c,
            "mean": table["mean"][c],
            "sigma": table["sigma"][c],
            "half_width": table["half_width"][c],
            "large_mean": dom["large_mean"],
            "wide": dom["wide"],
        },
    )
    with atomic_path(out_histograms) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            counts=counts,
            edges=edges,
            n=mom.n,
            mean_factor=mean_factor,
            sigma_factor=sigma_factor,
        )
    return table, dom


def read_tsv(path) -> dict[str, np.ndarray]:
    """A TSV written by :func:`write_tsv`, as {column: float array} (string array for text columns)."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    return {h: _column([r[k] for r in rows]) for k, h in enumerate(header)}


def _column(values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array(values)


def plot_components(
    table_tsv,
    dominant_tsv,
    histograms_npz,
    fig_grid,
    fig_overlay,
    fig_dominant,
    *,
    grid: list[int] | None,
    max_grid: int = 12,
):
    """Histogram grid with Gaussian fits, overlay of all components, dominant components."""
    table, dom = read_tsv(table_tsv), read_tsv(dominant_tsv)
    c = dom["component"].astype(int)
    with np.load(histograms_npz) as f:
        counts, edges, n = f["counts"], f["edges"], int(f["n"])
        mean_factor, sigma_factor = float(f["mean_factor"]), float(f["sigma_factor"])
    d = len(counts)
    if grid and max(grid) >= d:
        raise ValueError(f"stats.components.grid: component {max(grid)} is outside 0..{d - 1}")
    shown = list(grid) if grid else [int(i) for i in c[:max_grid]]
    if not grid and len(shown) < min(max_grid, d):  # fill up with the widest components
        shown += [int(i) for i in np.argsort(-table["sigma"]) if i not in shown][
            : max_grid - len(shown)
        ]
    fig, axes = _grid(len(shown))
    for ax, i in zip(axes, shown):
        x = 0.5 * (edges[i, :-1] + edges[i, 1:])
        ax.bar(
            x,
            counts[i],
            width=edges[i, 1] - edges[i, 0],
            color="tab:blue",
            alpha=0.6,
            label="latents",
        )
        a, mu, s = stats.fit_gaussian(counts[i], edges[i], table["mean"][i], table["sigma"][i])
        ax.plot(
            x, stats.gauss(x, a, mu, s), "r-", lw=1.2, label=f"Gaussian fit\nμ={mu:.2f} σ={s:.2f}"
        )
        ax.set_title(f"component {i}", fontsize=9)
        ax.set_xlabel("value")
        ax.set_ylabel("count")
        ax.legend(fontsize=6)
    fig.suptitle(f"Component histograms with Gaussian fits (N = {n:,} vectors)", fontsize=10)
    fig.tight_layout()
    save_fig(fig, fig_grid)

    dominant = set(int(i) for i in c)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i in range(d):
        x = 0.5 * (edges[i, :-1] + edges[i, 1:])
        ax.plot(
            x,
            counts[i] / counts[i].sum() / (edges[i, 1] - edges[i, 0]),
            lw=0.5,
            alpha=0.5,
            color="tab:red" if i in dominant else "tab:gray",
        )
    ax.set_xlabel("component value")
    ax.set_ylabel("density")
    ax.set_title(f"All {d} component distributions (dominant ones in red)")
    fig.tight_layout()
    save_fig(fig, fig_overlay)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(table["mean"], table["sigma"], s=8, color="tab:gray", label="component")
    ax.scatter(table["mean"][c], table["sigma"][c], s=14, color="tab:red", label="dominant")
    for i in c[:15]:
        ax.annotate(str(i), (table["mean"][i], table["sigma"][i]), fontsize=7)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("mean")
    ax.set_ylabel("sigma")
    ax.set_title(
        f"Dominant components: |mean| > {mean_factor:g}×median or σ > {sigma_factor:g}×median",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_fig(fig, fig_dominant)


# --- rule radius --------------------------------------------------------------------------------


def run_radius(
    latents,
    moments_npz,
    out_table,
    out_json,
    fig,
    *,
    b_values: list[float],
    samples: int,
    seed: int,
):
    z, mom = open_z(latents), stats.Moments.load(moments_npz)
    r0, rc = stats.radii(z, mom.mean)
    rng = np.random.default_rng(seed)
    dim = z.shape[1]
    rows = {"b": [], "mean_radius": [], "std_radius": [], "overlap_with_data": []}
    uniform = {}
    for b in b_values:
        u = stats.uniform_radii(b, dim, samples, rng)
        uniform[b] = u
        rows["b"].append(b)
        rows["mean_radius"].append(u.mean())
        rows["std_radius"].append(u.std())
        rows["overlap_with_data"].append(stats.overlap(r0, u))
    write_tsv(out_table, rows)
    best = float(b_values[int(np.argmax(rows["overlap_with_data"]))])
    result = {
        "n": int(len(r0)),
        "dim": dim,
        "radius_from_origin": {
            "mean": r0.mean(),
            "std": r0.std(),
            "min": r0.min(),
            "max": r0.max(),
        },
        "radius_from_centre": {
            "mean": rc.mean(),
            "std": rc.std(),
            "min": rc.min(),
            "max": rc.max(),
        },
        "centre_norm": float(np.linalg.norm(mom.mean)),
        "best_b": best,
        "best_overlap": float(max(rows["overlap_with_data"])),
        "b_matching_mean_square_radius": float(math.sqrt(3 * np.mean(r0**2) / dim)),
        "uniform_samples": samples,
    }
    write_json(out_json, result)
    f, ax = plt.subplots(figsize=(8, 4.8))
    hi = max(r0.max(), max(u.max() for u in uniform.values()))
    binsr = np.linspace(0, hi * 1.02, 150)
    ax.hist(r0, bins=binsr, density=True, alpha=0.6, color="tab:blue", label="latents: |z|")
    ax.hist(
        rc, bins=binsr, density=True, alpha=0.5, color="tab:green", label="latents: |z − centre|"
    )
    for b, u in uniform.items():
        ax.hist(
            u,
            bins=binsr,
            density=True,
            histtype="step",
            lw=1.3 if b == best else 0.8,
            label=f"uniform [−{b:g}, {b:g}]^{dim}" + (" (best overlap)" if b == best else ""),
        )
    ax.set_xlabel("Euclidean radius")
    ax.set_ylabel("density")
    ax.set_title(f"Radius distributions (N = {len(r0):,}; {samples:,} uniform vectors per b)")
    ax.legend(fontsize=7)
    f.tight_layout()
    save_fig(f, fig)
    return result


# --- rule correlations --------------------------------------------------------------------------


def run_correlations(
    latents,
    moments_npz,
    out_matrix,
    out_counts,
    out_pairs,
    *,
    thresholds: list[float],
    list_threshold: float,
) -> dict:
    """Pearson matrix, counts of pairs above each threshold, and the pairs above ``list_threshold``."""
    mom = stats.Moments.load(moments_npz)
    r = mom.corr()
    d = len(r)
    write_tsv(out_matrix, {"component": np.arange(d), **{str(j): r[:, j] for j in range(d)}})
    iu = np.triu_indices(d, 1)
    vals = r[iu]
    write_tsv(
        out_counts,
        {
            "threshold": thresholds,
            "pairs_above": [int((np.abs(vals) > t).sum()) for t in thresholds],
            "fraction_of_pairs": [float((np.abs(vals) > t).mean()) for t in thresholds],
        },
    )
    order = np.argsort(-np.abs(vals))
    sel = order[np.abs(vals[order]) > list_threshold]
    write_tsv(out_pairs, {"i": iu[0][sel], "j": iu[1][sel], "r": vals[sel]})
    return {"pairs": int(len(sel))}


def plot_correlations(
    latents,
    moments_npz,
    fig_matrix,
    fig_pairs,
    *,
    top_pairs: int,
    chosen_image: int,
    max_points: int,
    uniform_b: float,
    seed: int,
) -> None:
    """Heat map of the matrix; scatter plots of the most correlated pairs with the data (thinned for
    drawing only), the origin, the centre, one chosen image's point and uniform random vectors."""
    z, mom = open_z(latents), stats.Moments.load(moments_npz)
    r = mom.corr()
    d = len(r)
    iu = np.triu_indices(d, 1)
    vals = r[iu]
    order = np.argsort(-np.abs(vals))
    if not 0 <= chosen_image < z.shape[0]:
        raise ValueError(
            f"stats.correlation_plots.chosen_image={chosen_image}: there are {z.shape[0]} latent vectors"
        )
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(r, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="Pearson r")
    ax.set_xlabel("component")
    ax.set_ylabel("component")
    ax.set_title(f"Correlation matrix of the {d} latent components (N = {mom.n:,})")
    fig.tight_layout()
    save_fig(fig, fig_matrix)

    rng = np.random.default_rng(seed)
    _, pts = stats.thin_rows(z, max_points, rng)
    chosen = np.asarray(z[chosen_image], dtype=float)
    uni = rng.uniform(-uniform_b, uniform_b, size=(min(max_points, 2000), d))
    top = order[: max(1, top_pairs)]
    fig, axes = _grid(len(top), cols=3, size=(4, 3.6))
    for ax, k in zip(axes, top):
        i, j = iu[0][k], iu[1][k]
        ax.scatter(
            uni[:, i],
            uni[:, j],
            s=2,
            color="tab:orange",
            alpha=0.3,
            label=f"uniform [−{uniform_b:g}, {uniform_b:g}]",
        )
        ax.scatter(
            pts[:, i],
            pts[:, j],
            s=2,
            color="tab:blue",
            alpha=0.3,
            label=f"latents ({len(pts):,} drawn)",
        )
        ax.plot(0, 0, "k+", ms=12, mew=2, label="origin")
        ax.plot(mom.mean[i], mom.mean[j], "rx", ms=10, mew=2, label="centre")
        ax.plot(chosen[i], chosen[j], "g*", ms=12, label=f"image #{chosen_image}")
        ax.set_xlabel(f"z[{i}]")
        ax.set_ylabel(f"z[{j}]")
        ax.set_title(f"r = {vals[k]:+.2f}", fontsize=9)
    axes[0].legend(fontsize=6, markerscale=1, loc="best")
    fig.suptitle("Most correlated component pairs", fontsize=10)
    fig.tight_layout()
    save_fig(fig, fig_pairs)


# --- rule pca -----------------------------------------------------------------------------------


def run_pca(moments_npz, out_table, out_json) -> dict:
    """Eigenvalues of the covariance, explained variance, components for 90/95/99 %."""
    mom = stats.Moments.load(moments_npz)
    w, _ = stats.pca(mom)
    ratio = w / w.sum()
    write_tsv(
        out_table,
        {
            "pc": np.arange(1, len(w) + 1),
            "eigenvalue": w,
            "explained": ratio,
            "cumulative": np.cumsum(ratio),
        },
    )
    need = stats.components_for(ratio)
    write_json(
        out_json,
        {
            "n": mom.n,
            "dim": len(w),
            "components_for": need,
            "largest_eigenvalue": w[0],
            "smallest_eigenvalue": w[-1],
            "condition_number": w[0] / max(w[-1], 1e-300),
        },
    )
    return need


def plot_pca(latents, moments_npz, fig_spectrum, fig_planes, *, planes: list[list[int]]) -> None:
    """Spectrum and cumulative explained variance; 2-D histograms of all vectors on principal planes."""
    z, mom = open_z(latents), stats.Moments.load(moments_npz)
    w, v = stats.pca(mom)
    ratio = w / w.sum()
    cum = np.cumsum(ratio)
    need = stats.components_for(ratio)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    a1.semilogy(np.arange(1, len(w) + 1), w, ".-")
    a1.set_xlabel("principal component")
    a1.set_ylabel("eigenvalue (variance, log scale)")
    a1.set_title("Eigenvalue spectrum")
    a2.plot(np.arange(1, len(w) + 1), cum * 100)
    for lvl, k in need.items():
        a2.axvline(k, ls="--", lw=0.8, color="gray")
        a2.annotate(f"{lvl}: {k}", (k, float(lvl[:-1])), fontsize=8)
    a2.set_xlabel("number of components")
    a2.set_ylabel("cumulative explained variance (%)")
    a2.set_title("Cumulative explained variance")
    fig.tight_layout()
    save_fig(fig, fig_spectrum)
    bad = [p for p in planes if max(p) >= len(w)]
    if bad:
        raise ValueError(f"stats.pca_plots.planes: {bad[0]} names a component beyond PC{len(w)}")
    fig, axes = _grid(len(planes), cols=3, size=(4, 3.6))
    for ax, (i, j), (h, ex, ey) in zip(
        axes, planes, stats.plane_histograms(z, mom, planes, basis=v)
    ):
        ax.pcolormesh(ex, ey, np.log1p(h.T), cmap="viridis")
        ax.set_xlabel(f"PC{i + 1} ({ratio[i] * 100:.1f}%)")
        ax.set_ylabel(f"PC{j + 1} ({ratio[j] * 100:.1f}%)")
        ax.set_title("log(1 + count), all vectors", fontsize=8)
    fig.suptitle("Projections onto principal planes", fontsize=10)
    fig.tight_layout()
    save_fig(fig, fig_planes)


# --- rule mnd -----------------------------------------------------------------------------------


def choose_planes(pairs_tsv, dominant_tsv, n_planes: int) -> list[tuple[int, int]]:
    """Default planes for the normal fit: top correlated pairs, then pairs of dominant components."""
    pairs = read_tsv(pairs_tsv)
    top = max(1, n_planes // 2)
    planes = [(int(i), int(j)) for i, j in zip(pairs["i"][:top], pairs["j"][:top])]
    dom = [int(c) for c in read_tsv(dominant_tsv)["component"]]
    for a, b in zip(dom[0::2], dom[1::2]):
        if len(planes) >= n_planes:
            break
        if (a, b) not in planes:
            planes.append((a, b))
    k = 0
    while len(planes) < n_planes:  # fall back to the first components
        planes.append((2 * k, 2 * k + 1))
        k += 1
    return planes[:n_planes]


def run_mnd(
    latents,
    moments_npz,
    out_json,
    out_shells,
    out_tests,
    fig_contours,
    fig_marginals,
    fig_qq,
    fig_shells,
    *,
    planes: list[tuple[int, int]],
    core_sigma: float,
    seed: int,
    null_runs: int = 100,
    max_test_n: int = 10000,
    cache_dir=None,
):
    z, mom = open_z(latents), stats.Moments.load(moments_npz)
    if z.nbytes <= IN_MEMORY_BYTES:  # the core fit passes over the vectors many times
        z = z[:]
    dim = z.shape[1]
    d2 = stats.mahalanobis_sq(z, mom)
    shells = normality.beta_shell_fractions(d2, len(d2), dim, stats.SIGMA_LEVELS)
    write_tsv(out_shells, {k: [s[k] for s in shells] for k in shells[0]})
    verdict = normality.test_core(
        z, core_sigma, runs=null_runs, seed=seed, max_test_n=max_test_n, cache_dir=cache_dir
    )
    tests, fit, test_fit, null = (
        verdict["tests"],
        verdict["fit"],
        verdict["test_fit"],
        verdict["null"],
    )
    write_tsv(out_tests, {k: [t[k] for t in tests] for k in tests[0]})
    result = {
        "n": int(len(d2)),
        "dim": dim,
        "core": {
            **fit.summary(),
            "mean_distance_from_full_mean": float(np.linalg.norm(fit.mean - mom.mean)),
            "trace_ratio_core_to_full": float(np.trace(fit.cov) / np.trace(mom.cov)),
        },
        "tests": tests,
        "tested": {
            "n": test_fit.n,
            "n_core": test_fit.n_core,
            "fraction_inside": test_fit.fraction_inside,
            "vectors": (
                "all"
                if test_fit is fit
                else f"a random {test_fit.n} of {fit.n} (seed {seed}), "
                "because the null is simulated at exactly the tested n"
            ),
        },
        "consistent_with_normal": verdict["consistent_with_normal"],
        "consistent_with_normal_means": (
            f"no test rejects at {verdict['alpha']:g} (Bonferroni over {len(tests)} tests) that the vectors inside "
            f"the {core_sigma:g}-sigma shell of a normal fitted to them are that normal's truncated core; it says "
            "nothing about the vectors outside the shell (see core.fraction_inside against expected_fraction)"
        ),
        "alpha_per_test": verdict["alpha_per_test"],
        "null": {
            "runs": null.runs,
            "n": null.n,
            "simulated": "N(0, I) clouds through the same core fit and statistics",
        },
        "planes": [list(map(int, pl)) for pl in planes],
    }
    write_json(out_json, result)

    fig, axes = _grid(len(planes), cols=2, size=(4.6, 4.2))
    masses = [1 - math.exp(-k * k / 2) for k in stats.SIGMA_LEVELS]
    for ax, (i, j), (h, ex, ey) in zip(
        axes, planes, stats.plane_histograms(z, mom, planes, bins=60)
    ):
        cx, cy = 0.5 * (ex[:-1] + ex[1:]), 0.5 * (ey[:-1] + ey[1:])
        levels = sorted(set(stats.hpd_levels(h, masses)))
        if len(levels) >= 2:
            ax.contour(cx, cy, h.T, levels=levels, colors="tab:blue", linewidths=1)
        cov2 = mom.cov[np.ix_([i, j], [i, j])]
        for k in stats.SIGMA_LEVELS:
            e = stats.ellipse_points(mom.mean[[i, j]], cov2, k)
            ax.plot(e[:, 0], e[:, 1], "r--", lw=0.9)
            ax.annotate(f"{k:g}σ", e[0], fontsize=7, color="r")
        ax.plot(0, 0, "k+", ms=10)
        ax.set_xlabel(f"z[{i}]")
        ax.set_ylabel(f"z[{j}]")
        ax.set_title(f"r = {mom.corr()[i, j]:+.2f}", fontsize=8)
    fig.suptitle(
        "Empirical density contours (blue, same mass) vs fitted normal's 1, 2, 2.5, 3σ ellipses (red)",
        fontsize=9,
    )
    fig.tight_layout()
    save_fig(fig, fig_contours)

    comps = sorted({c for pl in planes for c in pl})[:8]
    fig, axes = _grid(len(comps), cols=4)
    for ax, c, (counts, ex) in zip(axes, comps, stats.marginal_histograms(z, mom, comps)):
        x = 0.5 * (ex[:-1] + ex[1:])
        ax.bar(x, counts / counts.sum() / (ex[1] - ex[0]), width=ex[1] - ex[0], alpha=0.6)
        ax.plot(x, st.norm.pdf(x, mom.mean[c], mom.std[c]), "r-", lw=1)
        ax.set_xlabel(f"z[{c}]")
        ax.set_ylabel("density")
    fig.suptitle("1-D marginals against the fitted normal's", fontsize=10)
    fig.tight_layout()
    save_fig(fig, fig_marginals)

    fig, ax = plt.subplots(figsize=(5.5, 5))
    law = st.chi2(dim)
    theo = law.ppf(normality.QQ_PROBS * law.cdf(fit.t))  # quantiles of chi2 truncated at the shell
    ax.fill_between(
        theo, null.qq_low, null.qq_high, color="0.8", label=f"95 % of {null.runs} normal clouds"
    )
    ax.plot(theo, verdict["qq"], ".", ms=3, label="latents' core")
    ax.plot(theo[[0, -1]], theo[[0, -1]], "k--", lw=0.8, label="y = x")
    ax.set_xlabel(f"χ²({dim}) quantile, truncated at the {core_sigma:g}σ shell")
    ax.set_ylabel("core's Mahalanobis d² quantile")
    of = "" if test_fit is fit else f"; a random {test_fit.n:,} of {fit.n:,}"
    ax.set_title(
        f"Core d² vs its law ({test_fit.n_core:,} of {test_fit.n:,} vectors inside{of})",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_fig(fig, fig_qq)

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ks_ = [s["sigma"] for s in shells]
    w = 0.35
    ax.bar(
        np.arange(len(ks_)) - w / 2,
        [s["expected_fraction"] * 100 for s in shells],
        w,
        label="normal distribution (exact law of in-sample d²)",
    )
    ax.bar(
        np.arange(len(ks_)) + w / 2,
        [s["observed_fraction"] * 100 for s in shells],
        w,
        label="latents",
    )
    ax.set_xticks(np.arange(len(ks_)), [f"{k:g}σ" for k in ks_])
    ax.set_xlabel("shell (same probability as ±kσ in 1-D)")
    ax.set_ylabel("vectors inside (%)")
    ax.set_title("Fraction inside each sigma shell")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_fig(fig, fig_shells)
    return result


# --- rule origin --------------------------------------------------------------------------------


def run_origin(latents, moments_npz, out_json, fig):
    z, mom = open_z(latents), stats.Moments.load(moments_npz)
    dim = z.shape[1]
    d2 = stats.mahalanobis_sq(z, mom)
    d = np.sqrt(d2)
    d0 = math.sqrt(stats.point_mahalanobis_sq(np.zeros(dim), mom))
    pct = float((d < d0).mean() * 100)
    if d0 > d.max():
        where = "outside the cloud (farther than every vector)"
    elif pct >= 90:
        where = "near the border of the cloud"
    else:
        where = "inside the cloud"
    result = {
        "origin_mahalanobis": d0,
        "origin_percentile_among_vectors": pct,
        "vectors_mahalanobis": {
            "median": float(np.median(d)),
            "p99": float(np.percentile(d, 99)),
            "max": float(d.max()),
        },
        "chi_expected_median": float(math.sqrt(st.chi2.ppf(0.5, dim))),
        "origin_chi2_sf": float(st.chi2.sf(d0 * d0, dim)),
        "centre_euclidean_norm": float(np.linalg.norm(mom.mean)),
        "position": where,
    }
    write_json(out_json, result)
    f, ax = plt.subplots(figsize=(6.5, 4))
    ax.hist(d, bins=120, density=True, alpha=0.6, label="latent vectors")
    x = np.linspace(0, max(d.max(), d0) * 1.05, 300)
    ax.plot(x, st.chi.pdf(x, dim), "r-", lw=1, label=f"χ({dim}) (normal cloud)")
    ax.axvline(d0, color="k", ls="--", label=f"origin: {d0:.1f} ({pct:.1f} percentile)")
    ax.set_xlabel("Mahalanobis distance from the centre")
    ax.set_ylabel("density")
    ax.set_title(f"Where the origin sits: {where}", fontsize=9)
    ax.legend(fontsize=8)
    f.tight_layout()
    save_fig(f, fig)
    return result


# --- rule compare -------------------------------------------------------------------------------


def run_compare(
    names, eigen_tsvs, mnd_jsons, dominant_tsvs, summary_tsvs, out_table, out_faces, fig
) -> dict:
    """One row per experiment (spectrum, normality, dominant components) and face rates per sampler."""
    rows = {
        "experiment": [],
        "z_dim": [],
        "pcs_for_90pct": [],
        "pcs_for_99pct": [],
        "dominant_components": [],
        "core_fraction_inside": [],
        "core_expected_fraction": [],
        "ks_core_z": [],
        "consistent_with_normal": [],
    }
    spectra, faces = {}, {}
    for name, e, m, d, s in zip(names, eigen_tsvs, mnd_jsons, dominant_tsvs, summary_tsvs):
        ev = read_tsv(e)
        mnd = json.loads(Path(m).read_text())
        need = stats.components_for(ev["explained"])
        rows["experiment"].append(name)
        rows["z_dim"].append(len(ev["eigenvalue"]))
        rows["pcs_for_90pct"].append(need["90%"])
        rows["pcs_for_99pct"].append(need["99%"])
        rows["dominant_components"].append(len(Path(d).read_text().splitlines()) - 1)
        rows["core_fraction_inside"].append(mnd["core"]["fraction_inside"])
        rows["core_expected_fraction"].append(mnd["core"]["expected_fraction"])
        rows["ks_core_z"].append(next(t["z"] for t in mnd["tests"] if t["test"] == "ks_core_d2"))
        rows["consistent_with_normal"].append(mnd["consistent_with_normal"])
        spectra[name] = ev["explained"]
        lines = [line.split("\t") for line in Path(s).read_text().splitlines()]
        for r in lines[1:]:
            rec = dict(zip(lines[0], r))
            label = (
                rec["sampler"] if rec["setting"] == "-" else f"{rec['sampler']} {rec['setting']}"
            )
            faces.setdefault(label, {})[name] = float(rec["face_rate"])
    write_tsv(out_table, rows)
    labels = list(faces)
    write_tsv(
        out_faces,
        {
            "sampler": labels,
            **{n: [faces[lab].get(n, float("nan")) for lab in labels] for n in names},
        },
    )
    f, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
    for name, ex in spectra.items():
        a1.semilogy(np.arange(1, len(ex) + 1), ex, label=name)
    a1.set_xlabel("principal component")
    a1.set_ylabel("explained variance ratio (log scale)")
    a1.set_title("Eigenvalue spectra")
    a1.legend(fontsize=8)
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        a2.bar(x + k * w, [faces[lab].get(name, np.nan) for lab in labels], w, label=name)
    a2.set_xticks(x + w * (len(names) - 1) / 2, labels, rotation=60, ha="right", fontsize=7)
    a2.set_ylabel("MTCNN face rate")
    a2.set_ylim(0, 1.05)
    a2.set_title("Face rate per sampler and experiment")
    a2.legend(fontsize=8)
    f.tight_layout()
    save_fig(f, fig)
    return rows
