"""Statistics of the latent cloud, streamed over Zarr chunks so that all N vectors are used.

Every function takes the ``z`` array of ``latents.zarr`` (or any array with ``shape``, ``chunks``
and slicing) and reads it block by block in float64. ``moments`` is the one full pass the
others build on: count, mean, covariance, minimum and maximum per component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import math

from scipy import optimize, special
from scipy import stats as st

#: the k-sigma levels the seeds use
SIGMA_LEVELS = (1.0, 2.0, 2.5, 3.0)


def blocks(z, rows: int | None = None, dtype=np.float64) -> Iterator[tuple[int, np.ndarray]]:
    """(start, block as ``dtype``) over the rows of ``z``, aligned with its chunks."""
    n = z.shape[0]
    chunk = getattr(z, "chunks", (4096,))[0]  # NumPy arrays are read in blocks of 4096 rows
    step = rows or max(chunk, (1 << 22) // max(1, z.shape[1]) // chunk * chunk)
    for s in range(0, n, step):
        yield s, np.asarray(z[s : s + step], dtype=dtype)


@dataclass
class Moments:
    n: int
    mean: np.ndarray
    cov: np.ndarray  # unbiased (n - 1)
    minimum: np.ndarray
    maximum: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    def corr(self) -> np.ndarray:
        s = self.std
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.cov / np.outer(s, s)
        r[~np.isfinite(r)] = 0.0
        np.fill_diagonal(r, 1.0)
        return r

    def arrays(self) -> dict[str, np.ndarray]:
        """The moments as named arrays (rule moments' ``moments.npz``)."""
        return {k: np.asarray(getattr(self, k)) for k in ("n", "mean", "cov", "minimum", "maximum")}

    @classmethod
    def from_arrays(cls, a: dict) -> "Moments":
        return cls(int(a["n"]), a["mean"], a["cov"], a["minimum"], a["maximum"])


def moments(z) -> Moments:
    """One streaming pass: mean, covariance (shifted sums for accuracy), min and max."""
    n, shift = 0, None
    for _, b in blocks(z):
        if shift is None:
            shift = b.mean(axis=0)
            d = z.shape[1]
            s1, s2 = np.zeros(d), np.zeros((d, d))
            lo, hi = b.min(axis=0), b.max(axis=0)
        c = b - shift
        s1 += c.sum(axis=0)
        s2 += c.T @ c
        lo, hi = np.minimum(lo, b.min(axis=0)), np.maximum(hi, b.max(axis=0))
        n += len(b)
    if n < 2:
        raise ValueError(f"need at least 2 latent vectors, got {n}")
    m = s1 / n
    cov = (s2 - n * np.outer(m, m)) / (n - 1)
    return Moments(n, shift + m, cov, lo, hi)


# --- components ---------------------------------------------------------------------------------


#: histograms span mean +- this many sigma (within min..max), so that a few far outliers neither
#: widen the bins nor pile up in the edge bins; values beyond are counted apart
HIST_SPAN_SIGMA = 6.0


def component_histograms(z, mom: Moments, bins: int = 100) -> tuple[np.ndarray, np.ndarray, dict]:
    """Counts [D, bins] and edges [D, bins+1] per component over mean +- HIST_SPAN_SIGMA sigma
    (within min..max), and centred moments (skew, kurtosis) and the count of values outside."""
    d = z.shape[1]
    lo = np.maximum(mom.minimum, mom.mean - HIST_SPAN_SIGMA * mom.std)
    hi = np.minimum(mom.maximum, mom.mean + HIST_SPAN_SIGMA * mom.std)
    width = np.where(hi > lo, (hi - lo) / bins, 1.0)
    counts = np.zeros(d * bins, dtype=np.int64)
    outside = np.zeros(d, dtype=np.int64)
    m3, m4 = np.zeros(d), np.zeros(d)
    offs = np.arange(d) * bins
    for _, b in blocks(z):
        inside = (b >= lo) & (b <= hi)
        outside += (~inside).sum(axis=0)
        idx = np.clip(((b - lo) / width).astype(np.int64), 0, bins - 1) + offs
        counts += np.bincount(idx[inside], minlength=d * bins)
        c = b - mom.mean
        c2 = c * c
        m3 += (c2 * c).sum(axis=0)
        m4 += (c2 * c2).sum(axis=0)
    edges = lo[:, None] + width[:, None] * np.arange(bins + 1)[None, :]
    var = np.diag(mom.cov) * (mom.n - 1) / mom.n
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = (m3 / mom.n) / var**1.5
        kurt = (m4 / mom.n) / var**2 - 3.0
    return (
        counts.reshape(d, bins),
        edges,
        {"skew": skew, "excess_kurtosis": kurt, "outside_histogram": outside},
    )


def shell_mass(k: float) -> float:
    """The probability of +-k sigma in one dimension, which the k-sigma shell holds in any."""
    return float(special.erf(k / math.sqrt(2)))


def shell_d2(k: float, dim: int) -> float:
    """Squared Mahalanobis radius of the k-sigma shell in ``dim`` dimensions: the ellipsoid that
    holds the probability of +-k sigma in one dimension (:func:`shell_mass`)."""
    return float(st.chi2.ppf(shell_mass(k), dim))


def gauss(x, a, mu, sigma):
    return a * np.exp(-0.5 * ((x - mu) / sigma) ** 2)


def fit_gaussian(
    counts: np.ndarray, edges: np.ndarray, mean: float, std: float
) -> tuple[float, float, float]:
    """Least-squares Gaussian fit to a histogram: (amplitude, mu, sigma)."""
    x = 0.5 * (edges[:-1] + edges[1:])
    p0 = (counts.max(), mean, std if std > 0 else 1.0)
    try:
        (a, mu, s), _ = optimize.curve_fit(gauss, x, counts, p0=p0, maxfev=2000)
    except (RuntimeError, ValueError):
        a, mu, s = p0
    return float(a), float(mu), float(abs(s))


def half_width(counts: np.ndarray, edges: np.ndarray) -> float:
    """Half width at half maximum of a histogram (linear interpolation at both flanks)."""
    x = 0.5 * (edges[:-1] + edges[1:])
    c = (
        np.convolve(counts, np.ones(3) / 3, mode="same")
        if len(counts) >= 5
        else counts.astype(float)
    )
    k = int(np.argmax(c))
    half = c[k] / 2
    left = k
    while left > 0 and c[left] > half:
        left -= 1
    right = k
    while right < len(c) - 1 and c[right] > half:
        right += 1

    def cross(i, j):
        if c[j] == c[i]:
            return x[i]
        return x[i] + (half - c[i]) * (x[j] - x[i]) / (c[j] - c[i])

    xl = cross(left, left + 1) if left < k else x[0]
    xr = cross(right - 1, right) if right > k else x[-1]
    return float((xr - xl) / 2)


def component_table(z, mom: Moments, bins: int = 100) -> tuple[dict, np.ndarray, np.ndarray]:
    """Per-component statistics (columns of equal length), plus the histograms."""
    counts, edges, hm = component_histograms(z, mom, bins)
    fits = [fit_gaussian(counts[i], edges[i], mom.mean[i], mom.std[i]) for i in range(len(counts))]
    table = {
        "component": np.arange(len(counts)),
        "mean": mom.mean,
        "sigma": mom.std,
        "half_width": np.array([half_width(counts[i], edges[i]) for i in range(len(counts))]),
        "fit_mean": np.array([f[1] for f in fits]),
        "fit_sigma": np.array([f[2] for f in fits]),
        "fit_amplitude": np.array([f[0] for f in fits]),
        "min": mom.minimum,
        "max": mom.maximum,
        "skew": hm["skew"],
        "excess_kurtosis": hm["excess_kurtosis"],
        "outside_histogram": hm["outside_histogram"],
    }
    return table, counts, edges


def dominant_components(
    mean: np.ndarray, sigma: np.ndarray, mean_factor: float, sigma_factor: float
) -> dict:
    """Components whose |mean| or sigma stands out: more than ``factor`` times the median over components."""
    am = np.abs(mean)
    big_mean = am > mean_factor * np.median(am)
    wide = sigma > sigma_factor * np.median(sigma)
    idx = np.flatnonzero(big_mean | wide)
    order = idx[np.argsort(-np.maximum(am[idx] / np.median(am), sigma[idx] / np.median(sigma)))]
    return {"components": order, "large_mean": big_mean[order], "wide": wide[order]}


# --- radius ---------------------------------------------------------------------------------------


def radii(z, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|z| and |z - centre| for every vector."""
    r0, rc = np.empty(z.shape[0]), np.empty(z.shape[0])
    for s, b in blocks(z):
        r0[s : s + len(b)] = np.linalg.norm(b, axis=1)
        rc[s : s + len(b)] = np.linalg.norm(b - centre, axis=1)
    return r0, rc


def uniform_radii(
    b: float, dim: int, n: int, rng: np.random.Generator, block: int = 8192
) -> np.ndarray:
    """|u| for n vectors uniform in [-b, b]^dim."""
    out = np.empty(n)
    for s in range(0, n, block):
        m = min(block, n - s)
        out[s : s + m] = np.linalg.norm(
            rng.uniform(-b, b, size=(m, dim)).astype(np.float32), axis=1
        )
    return out


def overlap(a: np.ndarray, b: np.ndarray, bins: int = 200) -> float:
    """Overlap coefficient of two samples' histograms on a common grid (1 = identical)."""
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    ha, edges = np.histogram(a, bins=bins, range=(lo, hi))
    hb, _ = np.histogram(b, bins=edges)
    return float(np.minimum(ha / ha.sum(), hb / hb.sum()).sum())


# --- PCA and the normal fit -------------------------------------------------------------------


def pca(mom: Moments) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns) of the covariance."""
    w, v = np.linalg.eigh(mom.cov)
    order = np.argsort(w)[::-1]
    return np.clip(w[order], 0, None), v[:, order]


def components_for(explained: np.ndarray, levels=(0.9, 0.95, 0.99)) -> dict:
    cum = np.cumsum(explained) / explained.sum()
    return {f"{int(round(l * 100))}%": int(np.searchsorted(cum, l) + 1) for l in levels}


def whitener(mom: Moments) -> np.ndarray:
    """L^-1 with cov = L L^T (so |L^-1 (z - mean)|^2 is the squared Mahalanobis distance)."""
    return cov_whitener(mom.cov)


def cov_whitener(cov: np.ndarray) -> np.ndarray:
    """L^-1 with ``cov`` = L L^T, so that L^-1 cov L^-T = I."""
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError("the latent covariance is singular: some components do not vary") from None
    return np.linalg.inv(chol)


def mahalanobis_sq(z, mom: Moments) -> np.ndarray:
    w = whitener(mom)
    out = np.empty(z.shape[0])
    for s, b in blocks(z):
        y = (b - mom.mean) @ w.T
        out[s : s + len(b)] = np.einsum("ij,ij->i", y, y)
    return out


def point_mahalanobis_sq(x: np.ndarray, mom: Moments) -> float:
    y = whitener(mom) @ (np.asarray(x, float) - mom.mean)
    return float(y @ y)


def ellipse_points(mean2: np.ndarray, cov2: np.ndarray, k: float, n: int = 200) -> np.ndarray:
    """The k-sigma ellipse of a 2-D normal (the probability 1 - exp(-k^2/2) lies inside)."""
    w, v = np.linalg.eigh(cov2)
    t = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)])
    return (v @ (np.sqrt(np.clip(w, 0, None))[:, None] * k * circle)).T + mean2


def plane_histograms(
    z, mom: Moments, planes, bins: int = 80, basis: np.ndarray | None = None, span: float = 4.5
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """2-D histograms of all vectors in each plane (i, j) of components (or of ``basis`` columns),
    within mean +- span sigma, in one pass: [(counts, x edges, y edges)]."""
    edges = []
    for i, j in planes:
        if basis is None:
            m, s = mom.mean[[i, j]], mom.std[[i, j]]
        else:
            b2 = basis[:, [i, j]]
            m, s = b2.T @ mom.mean, np.sqrt(np.diag(b2.T @ mom.cov @ b2))
        edges.append(
            [np.linspace(m[k] - span * s[k], m[k] + span * s[k], bins + 1) for k in (0, 1)]
        )
    hs = [np.zeros((bins, bins)) for _ in planes]
    cols = sorted({c for pl in planes for c in pl})
    for _, b in blocks(z):
        proj = b @ basis[:, cols] if basis is not None else b[:, cols]
        for h, (i, j), (ex, ey) in zip(hs, planes, edges):
            h += np.histogram2d(proj[:, cols.index(i)], proj[:, cols.index(j)], bins=(ex, ey))[0]
    return [(h, ex, ey) for h, (ex, ey) in zip(hs, edges)]


def marginal_histograms(
    z, mom: Moments, comps, bins: int = 80, span: float = 4.5
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Histograms of all values of each component within mean +- span sigma, in one pass."""
    edges = [
        np.linspace(mom.mean[i] - span * mom.std[i], mom.mean[i] + span * mom.std[i], bins + 1)
        for i in comps
    ]
    hs = [np.zeros(bins) for _ in comps]
    for _, b in blocks(z):
        for h, i, e in zip(hs, comps, edges):
            h += np.histogram(b[:, i], bins=e)[0]
    return list(zip(hs, edges))


def hpd_levels(h: np.ndarray, masses) -> list[float]:
    """Density levels whose super-level sets hold the given probability masses (highest density)."""
    flat = np.sort(h.ravel())[::-1]
    cum = np.cumsum(flat) / flat.sum()
    return [float(flat[min(np.searchsorted(cum, m), len(flat) - 1)]) for m in masses]


def thin_rows(z, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random subset of rows, for drawing only: (indices, float64 rows)."""
    idx = np.sort(rng.choice(z.shape[0], size=min(n, z.shape[0]), replace=False))
    return idx, take_rows(z, idx)


def take_rows(z, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (sorted) of ``z`` as float64, in one streaming pass."""
    out = np.empty((len(idx), z.shape[1]))
    for s, b in blocks(z):
        sel = idx[(idx >= s) & (idx < s + len(b))]
        out[np.searchsorted(idx, sel)] = b[sel - s]
    return out


def radius_summary(
    r0: np.ndarray, rc: np.ndarray, centre: np.ndarray, uniform_b, overlaps, samples: int
) -> dict:
    """Radii from the origin and from the centre, and the uniform box that overlaps them best."""

    def spread(r):
        return {"mean": r.mean(), "std": r.std(), "min": r.min(), "max": r.max()}

    dim = len(centre)
    return {
        "n": int(len(r0)),
        "dim": dim,
        "radius_from_origin": spread(r0),
        "radius_from_centre": spread(rc),
        "centre_norm": float(np.linalg.norm(centre)),
        "best_b": float(uniform_b[int(np.argmax(overlaps))]),
        "best_overlap": float(max(overlaps)),
        "b_matching_mean_square_radius": float(math.sqrt(3 * np.mean(r0**2) / dim)),
        "uniform_samples": samples,
    }


def origin_position(d: np.ndarray, mom: Moments) -> dict:
    """Where the origin sits among vectors at Mahalanobis distances ``d`` from the centre."""
    dim = len(mom.mean)
    d0 = math.sqrt(point_mahalanobis_sq(np.zeros(dim), mom))
    pct = float((d < d0).mean() * 100)
    if d0 > d.max():
        where = "outside the cloud (farther than every vector)"
    elif pct >= 90:
        where = "near the border of the cloud"
    else:
        where = "inside the cloud"
    return {
        "dim": dim,
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


def pairs_by_strength(mom: Moments):
    """The correlation matrix, its upper-triangle indices and values, and their order by |r|."""
    r = mom.corr()
    iu = np.triu_indices(len(r), 1)
    vals = r[iu]
    return r, iu, vals, np.argsort(-np.abs(vals))


def choose_planes(top_pairs: dict, dominant, n_planes: int) -> list[tuple[int, int]]:
    """Planes to draw: the most correlated pairs (``top_pairs``: columns ``i``, ``j``, strongest
    first) for half, then pairs of ``dominant`` components, then the first components."""
    top = max(1, n_planes // 2)
    planes = [(int(i), int(j)) for i, j in zip(top_pairs["i"][:top], top_pairs["j"][:top])]
    dom = [int(c) for c in dominant]
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


# --- what the statistics figures draw, computed by the table rules --------------------------------


def pair_scatter(
    z, mom: Moments, top_pairs: int, chosen: int, max_points: int, uniform_b: float, rng
) -> dict[str, np.ndarray]:
    """What the scatter plots of the ``top_pairs`` most correlated pairs show, restricted to the
    ``components`` of those pairs: a random ``max_points`` of the vectors (thinned for drawing
    only), uniform vectors in [-uniform_b, uniform_b], the centre and row ``chosen``'s vector."""
    _, iu, vals, order = pairs_by_strength(mom)
    top = order[: max(1, top_pairs)]
    pairs = np.stack([iu[0][top], iu[1][top]], axis=1)
    comps = np.unique(pairs)
    _, pts = thin_rows(z, max_points, rng)
    uni = rng.uniform(-uniform_b, uniform_b, size=(min(max_points, 2000), len(comps)))
    return {
        "pairs": pairs,
        "r": vals[top],
        "components": comps,
        "points": pts[:, comps],
        "uniform": uni,
        "centre": mom.mean[comps],
        "chosen": np.asarray(z[chosen], dtype=float)[comps],
        "chosen_image": chosen,
        "uniform_b": uniform_b,
        "n": mom.n,
    }


def stacked_histograms(planes, histograms) -> dict[str, np.ndarray]:
    """:func:`plane_histograms`' list as arrays (for an NPZ): ``planes`` [K, 2], ``counts``
    [K, bins, bins], ``x_edges`` and ``y_edges`` [K, bins + 1]."""
    return {
        "planes": np.asarray(planes, dtype=int).reshape(-1, 2),
        "counts": np.stack([h for h, _, _ in histograms]),
        "x_edges": np.stack([ex for _, ex, _ in histograms]),
        "y_edges": np.stack([ey for _, _, ey in histograms]),
    }


def normal_projections(z, mom: Moments, planes, max_marginals: int = 8) -> dict[str, np.ndarray]:
    """The data against the fitted normal in coordinate ``planes``: each plane's 2-D histogram,
    the density levels that hold the masses of the normal's sigma ellipses (:func:`hpd_levels`,
    increasing as contour wants them, so the largest mass first; NaN-padded where a level repeats), those ellipses (:func:`ellipse_points`), the plane's r; and the
    first ``max_marginals`` of the planes' components' histograms with the fitted normal's
    density at their bin centres."""
    out = stacked_histograms(planes, plane_histograms(z, mom, planes, bins=60))
    masses = [1 - np.exp(-k * k / 2) for k in SIGMA_LEVELS]
    levels = np.full((len(planes), len(masses)), np.nan)
    ellipses = np.empty((len(planes), len(SIGMA_LEVELS), 200, 2))
    for p, ((i, j), h) in enumerate(zip(planes, out["counts"])):
        unique = sorted(set(hpd_levels(h, masses)))
        levels[p, : len(unique)] = unique
        cov2 = mom.cov[np.ix_([i, j], [i, j])]
        for s, k in enumerate(SIGMA_LEVELS):
            ellipses[p, s] = ellipse_points(mom.mean[[i, j]], cov2, k)
    comps = sorted({c for pl in planes for c in pl})[:max_marginals]
    marginals = marginal_histograms(z, mom, comps)
    centres = np.stack([0.5 * (e[:-1] + e[1:]) for _, e in marginals])
    corr = mom.corr()
    return out | {
        "levels": levels,
        "sigma_levels": np.asarray(SIGMA_LEVELS, dtype=float),
        "ellipses": ellipses,
        "r": np.array([corr[i, j] for i, j in planes]),
        "marginal_components": np.asarray(comps, dtype=int),
        "marginal_counts": np.stack([h for h, _ in marginals]),
        "marginal_edges": np.stack([e for _, e in marginals]),
        "marginal_normal": st.norm.pdf(centres, mom.mean[comps, None], mom.std[comps, None]),
    }
