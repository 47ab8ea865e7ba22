"""Rules of ``workflow/rules/stats.smk``: a table rule computes and writes tables, its plot rule
draws them (a figure edit reruns the plot rule only)."""

from __future__ import annotations

import logging

import numpy as np

from ..files import records
from ..latent import normality, describe, tails
from ..files.figures import save_figure
from ..plots import stats as plots

from .inputs import read_moments

log = logging.getLogger(__name__)


# --- moments --------------------------------------------------------------------------------------


def moments(*, latents, moments) -> describe.Moments:
    mom = describe.moments(records.open_z(latents))
    records.write_npz(moments, **mom.arrays())
    log.info("moments of %d vectors in %d dimensions", mom.n, len(mom.mean))
    return mom


# --- components -----------------------------------------------------------------------------------


def components(
    *,
    latents,
    moments,
    table,
    dominant,
    histograms,
    bins: int,
    dominant_mean_factor: float,
    dominant_sigma_factor: float,
):
    """Per-component table, the dominant components, and every component's histogram."""
    z, mom = records.open_z(latents), read_moments(moments)
    tab, counts, edges = describe.component_table(z, mom, bins)
    dom = describe.dominant_components(
        tab["mean"], tab["sigma"], dominant_mean_factor, dominant_sigma_factor
    )
    records.write_tsv(table, tab)
    c = dom["components"]
    records.write_tsv(
        dominant,
        {
            "component": c,
            "mean": tab["mean"][c],
            "sigma": tab["sigma"][c],
            "half_width": tab["half_width"][c],
            "large_mean": dom["large_mean"],
            "wide": dom["wide"],
        },
    )
    records.write_npz(
        histograms,
        counts=counts,
        edges=edges,
        n=mom.n,
        mean_factor=dominant_mean_factor,
        sigma_factor=dominant_sigma_factor,
    )
    return tab, dom


def component_plots(
    *, table, dominant, histograms, fig_grid, fig_overlay, fig_dominant, grid, max_grid: int = 12
):
    """Histogram grid with Gaussian fits (``grid``, or the dominant then the widest components),
    overlay of all components, and the dominant components' means and sigmas."""
    tab, dom, h = records.read_tsv(table), records.read_tsv(dominant), records.read_npz(histograms)
    c = dom["component"].astype(int)
    counts, edges, d = h["counts"], h["edges"], len(h["counts"])
    if grid and max(grid) >= d:
        raise ValueError(
            f"describe.component_plots.grid: component {max(grid)} is outside 0..{d - 1}"
        )
    shown = list(grid) if grid else [int(i) for i in c[:max_grid]]
    if not grid and len(shown) < min(max_grid, d):  # fill up with the widest components
        widest = [int(i) for i in np.argsort(-tab["sigma"]) if i not in shown]
        shown += widest[: max_grid - len(shown)]
    save_figure(plots.component_histograms(tab, counts, edges, shown, int(h["n"])), fig_grid)
    save_figure(plots.component_overlay(counts, edges, set(int(i) for i in c)), fig_overlay)
    factors = float(h["mean_factor"]), float(h["sigma_factor"])
    save_figure(plots.dominant_components(tab, c, *factors), fig_dominant)


# --- radius ---------------------------------------------------------------------------------------


def radius(
    *, latents, moments, table, summary, radii, uniform_b: list, uniform_samples: int, seed: int
) -> dict:
    """Radii of the latents against uniform boxes [-b, b]^N: overlap per b, the best b."""
    z, mom = records.open_z(latents), read_moments(moments)
    r0, rc = describe.radii(z, mom.mean)
    rng = np.random.default_rng(seed)
    dim = z.shape[1]
    uniform = [describe.uniform_radii(b, dim, uniform_samples, rng) for b in uniform_b]
    overlap = [describe.overlap(r0, u) for u in uniform]
    records.write_tsv(
        table,
        {
            "b": uniform_b,
            "mean_radius": [u.mean() for u in uniform],
            "std_radius": [u.std() for u in uniform],
            "overlap_with_data": overlap,
        },
    )
    records.write_npz(
        radii, from_origin=r0, from_centre=rc, b=np.asarray(uniform_b), uniform=uniform
    )

    result = describe.radius_summary(r0, rc, mom.mean, uniform_b, overlap, uniform_samples)
    records.write_json(summary, result)
    return result


def radius_plots(*, summary, radii, fig):
    s, r = records.read_json(summary), records.read_npz(radii)
    uniform = {float(b): u for b, u in zip(r["b"], r["uniform"])}
    figure = plots.radius_distributions(
        r["from_origin"], r["from_centre"], uniform, s["best_b"], s["dim"]
    )
    save_figure(figure, fig)


# --- correlations ---------------------------------------------------------------------------------


def correlations(
    *, moments, matrix, counts, pairs, count_thresholds: list, list_threshold: float
) -> dict:
    """Pearson matrix, counts of pairs above each threshold, and the pairs above ``list_threshold``."""
    r, iu, vals, order = describe.pairs_by_strength(read_moments(moments))
    d = len(r)
    records.write_tsv(matrix, {"component": np.arange(d), **{str(j): r[:, j] for j in range(d)}})
    records.write_tsv(
        counts,
        {
            "threshold": count_thresholds,
            "pairs_above": [int((np.abs(vals) > t).sum()) for t in count_thresholds],
            "fraction_of_pairs": [float((np.abs(vals) > t).mean()) for t in count_thresholds],
        },
    )
    sel = order[np.abs(vals[order]) > list_threshold]
    records.write_tsv(pairs, {"i": iu[0][sel], "j": iu[1][sel], "r": vals[sel]})
    return {"pairs": int(len(sel))}


def correlation_scatter(
    *,
    latents,
    moments,
    scatter,
    top_pairs: int,
    chosen_image: int,
    max_points_drawn: int,
    uniform_b: float,
    seed: int,
) -> None:
    """What the scatter plots of the ``top_pairs`` most correlated pairs draw
    (:func:`caelatent.latent.describe.pair_scatter`)."""
    z, mom = records.open_z(latents), read_moments(moments)
    if not 0 <= chosen_image < z.shape[0]:
        raise ValueError(
            f"describe.correlation_scatter.chosen_image={chosen_image}: there are {z.shape[0]} "
            "latent vectors"
        )
    rng = np.random.default_rng(seed)
    drawn = describe.pair_scatter(z, mom, top_pairs, chosen_image, max_points_drawn, uniform_b, rng)
    records.write_npz(scatter, **drawn)


def correlation_plots(*, matrix, scatter, fig_matrix, fig_pairs) -> None:
    """Heat map of the matrix; scatter plots of the most correlated pairs with the data (thinned for
    drawing only), the origin, the centre, one chosen image's point and uniform random vectors."""
    tab, drawn = records.read_tsv(matrix), records.read_npz(scatter)
    r = np.column_stack([tab[str(j)] for j in range(len(tab["component"]))])
    save_figure(plots.correlation_matrix(r, int(drawn["n"])), fig_matrix)
    save_figure(plots.correlated_pairs(drawn), fig_pairs)


# --- pca ------------------------------------------------------------------------------------------


def pca(*, moments, table, summary) -> dict:
    """Eigenvalues of the covariance, explained variance, components for 90/95/99 %."""
    mom = read_moments(moments)
    w, _ = describe.pca(mom)
    ratio = w / w.sum()
    records.write_tsv(
        table,
        {
            "pc": np.arange(1, len(w) + 1),
            "eigenvalue": w,
            "explained": ratio,
            "cumulative": np.cumsum(ratio),
        },
    )
    need = describe.components_for(ratio)
    records.write_json(
        summary,
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


def pca_planes(*, latents, moments, projections, planes: list) -> None:
    """2-D histograms of all vectors on the principal ``planes``."""
    mom = read_moments(moments)
    _, v = describe.pca(mom)
    bad = [p for p in planes if max(p) >= v.shape[1]]
    if bad:
        raise ValueError(
            f"describe.pca_planes.planes: {bad[0]} names a component beyond PC{v.shape[1]}"
        )
    hist = describe.plane_histograms(records.open_z(latents), mom, planes, basis=v)
    records.write_npz(projections, **describe.stacked_histograms(planes, hist))


def pca_plots(*, table, summary, projections, fig_spectrum, fig_planes) -> None:
    """Spectrum and cumulative explained variance; 2-D histograms of all vectors on principal planes."""
    ev, s, h = records.read_tsv(table), records.read_json(summary), records.read_npz(projections)
    need = s["components_for"]
    save_figure(plots.pca_spectrum(ev["eigenvalue"], ev["cumulative"], need), fig_spectrum)
    save_figure(plots.pca_planes(h, ev["explained"]), fig_planes)


# --- mnd ------------------------------------------------------------------------------------------


def mnd_core(*, latents, core, core_sigma: float, max_test_n: int, seed: int) -> dict:
    """The core fit of all vectors and of the tested ones (:func:`caelatent.latent.normality.fit_cores`):
    what the null is simulated for and the tests measure."""
    fit, rows, test_fit = normality.fit_cores(records.load_z(latents), core_sigma, seed, max_test_n)
    tested = np.arange(fit.n) if rows is None else rows
    records.write_npz(core, **fit.arrays("all_"), **test_fit.arrays("tested_"), tested_rows=tested)
    log.info("core of %d vectors; %d tested", fit.n, test_fit.n)
    return fit.summary()


def normality_null(*, core, null, null_runs: int, seed: int) -> None:
    """The calibrating null of the tested core: ``null_runs`` normal clouds of its n and p through
    the same fit and statistics, with its directions (:func:`caelatent.latent.normality.null_calibration`).
    """
    test_fit = normality.CoreFit.from_arrays(records.read_npz(core), "tested_")
    dirs = normality.directions(test_fit)
    p = len(test_fit.mean)
    found = normality.null_calibration(test_fit.n, p, test_fit.k_sigma, null_runs, seed, dirs)
    records.write_npz(null, **found.arrays())
    log.info("normality null: %d runs of %d x %d", null_runs, test_fit.n, p)


def mnd(*, latents, moments, core, null, summary, shells, tests, qq, seed: int) -> dict:
    """Sigma-shell fractions of all vectors, and the calibrated normality tests of the core."""
    z, mom, c = records.load_z(latents), read_moments(moments), records.read_npz(core)
    dim = z.shape[1]
    d2 = describe.mahalanobis_sq(z, mom)
    shell = normality.beta_shell_fractions(d2, len(d2), dim, describe.SIGMA_LEVELS)
    records.write_tsv(shells, {k: [s[k] for s in shell] for k in shell[0]})
    fit = normality.CoreFit.from_arrays(c, "all_")
    test_fit = normality.CoreFit.from_arrays(c, "tested_")
    sample = z if test_fit.n == fit.n else normality.take(z, c["tested_rows"])
    verdict = normality.decide(
        sample, fit, test_fit, normality.Null.from_arrays(records.read_npz(null))
    )
    found = verdict["tests"]
    records.write_tsv(tests, {k: [t[k] for t in found] for k in found[0]})
    records.write_npz(qq, **normality.qq_band(verdict, dim))
    result = normality.report(verdict, mom.mean, mom.cov, fit.k_sigma, seed)
    three = next(s for s in shell if s["sigma"] == 3.0)
    result |= tail_measure(verdict["sample"], len(d2), seed, three)
    records.write_json(summary, result)
    return result


def tail_measure(sample, n: int, seed: int, three: dict) -> dict:
    """The multivariate t's degrees of freedom nu with its interval, fitted to the tested vectors
    ``sample`` (those the normality tests saw), and the 3-sigma fraction it predicts at the data's
    p and n (:mod:`caelatent.latent.tails`) beside the observed and the normal law's (``three``: the
    3-sigma row of the shell fractions)."""
    sample = np.asarray(sample)
    fit = tails.fit_t(sample)
    lo, hi = tails.nu_interval(sample, fit)
    p = sample.shape[1]
    log.info("multivariate t: nu %.3g [%.3g, %.3g] on %d vectors", fit.nu, lo, hi, len(sample))
    return {
        "nu": fit.nu,
        "nu_lo": lo,
        "nu_hi": hi,
        "tails": {
            "nu_means": f"degrees of freedom of a multivariate t fitted by maximum likelihood; "
            f"searched in [{tails.NU_MIN:g}, {tails.NU_MAX:g}], so nu_hi = {tails.NU_MAX:g} means "
            "the data cannot tell the tails from a normal's; 95 % profile-likelihood interval",
            "n_fitted": len(sample),
            "converged": fit.converged,
            "inside_3sigma_observed": three["observed_fraction"],
            "inside_3sigma_predicted_by_t": tails.predicted_fraction(fit.nu, p, n, seed=seed),
            "inside_3sigma_predicted_by_normal": three["expected_fraction"],
        },
    }


def mnd_planes(
    *, latents, moments, pairs, dominant, projections, planes: list | None, n_planes: int
) -> list[tuple[int, int]]:
    """The data against the fitted normal in ``planes`` (default: :func:`caelatent.latent.describe.choose_planes`),
    and their components' marginals (:func:`caelatent.latent.describe.normal_projections`)."""
    z, mom = records.open_z(latents), read_moments(moments)
    planes = (
        [tuple(map(int, p)) for p in planes]
        if planes
        else describe.choose_planes(
            records.read_tsv(pairs), records.read_tsv(dominant)["component"], n_planes
        )
    )
    bad = [p for p in planes if max(p) >= z.shape[1]]
    if bad:
        raise ValueError(
            f"describe.mnd_planes.planes: {list(bad[0])} names a component beyond z[{z.shape[1] - 1}]"
        )
    records.write_npz(projections, **describe.normal_projections(z, mom, planes))
    return planes


def mnd_plots(
    *, summary, shells, qq, projections, fig_contours, fig_marginals, fig_qq, fig_shells
) -> None:
    """Contours against the fitted normal's ellipses, the planes' components' marginals, the core's
    QQ plot and the sigma-shell fractions."""
    s, drawn = records.read_json(summary), records.read_npz(projections)
    save_figure(plots.mnd_contours(drawn), fig_contours)
    save_figure(plots.mnd_marginals(drawn), fig_marginals)
    save_figure(
        plots.mnd_qq(records.read_npz(qq), s["dim"], s["core_sigma"], s["tested"], s["n"]), fig_qq
    )
    save_figure(plots.mnd_shells(records.read_tsv(shells)), fig_shells)


# --- origin ---------------------------------------------------------------------------------------


def origin(*, latents, moments, summary, distances) -> dict:
    """Where the origin sits in the cloud, in Mahalanobis distance from the centre."""
    z, mom = records.open_z(latents), read_moments(moments)
    d = np.sqrt(describe.mahalanobis_sq(z, mom))
    result = describe.origin_position(d, mom)
    records.write_npz(distances, mahalanobis=d)
    records.write_json(summary, result)
    return result


def origin_plots(*, summary, distances, fig) -> None:
    s, d = records.read_json(summary), records.read_npz(distances)["mahalanobis"]
    figure = plots.origin_position(
        d, s["origin_mahalanobis"], s["origin_percentile_among_vectors"], s["dim"], s["position"]
    )
    save_figure(figure, fig)
