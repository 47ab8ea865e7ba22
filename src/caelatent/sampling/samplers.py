"""Latent-vector samplers, each a small class with ``fit(z)`` and ``sample(n, rng)``.

``z`` is [N, d] (a NumPy array, or anything :func:`caelatent.latent.describe.blocks` can stream). Sigma
levels in d dimensions mean the shell holding the probability of +-k sigma in one dimension
(d^2 <= chi2.ppf(erf(k / sqrt 2), d)), as in the statistics stage.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..latent import describe
from ..latent.describe import shell_d2

log = logging.getLogger(__name__)


class Sampler:
    name = "sampler"

    def fit(self, z) -> "Sampler":
        self.moments_ = describe.moments(z)
        self.dim_ = len(self.moments_.mean)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def setting(self) -> str:
        return ""


class UniformBox(Sampler):
    """Uniform in [-b, b]^d, around the origin."""

    name = "uniform_box"

    def __init__(self, b: float):
        self.b = float(b)

    def sample(self, n, rng):
        return rng.uniform(-self.b, self.b, size=(n, self.dim_))

    @property
    def setting(self):
        return f"b{self.b:g}"


class ComponentIntervals(Sampler):
    """Each component uniform in mean +- f * half-width (half width at half maximum of its histogram)."""

    name = "intervals"

    def __init__(self, f: float, bins: int = 100):
        self.f, self.bins = float(f), bins

    def fit(self, z):
        super().fit(z)
        counts, edges, _ = describe.component_histograms(z, self.moments_, self.bins)
        self.half_width_ = np.array([describe.half_width(c, e) for c, e in zip(counts, edges)])
        return self

    def sample(self, n, rng):
        m, hw = self.moments_.mean, self.half_width_
        return rng.uniform(m - self.f * hw, m + self.f * hw, size=(n, self.dim_))

    @property
    def setting(self):
        return f"f{self.f:g}"


class OriginToCentre(Sampler):
    """Evenly spaced points on the segment from the origin (t = 0) to the cloud's centre (t = 1)."""

    name = "origin_to_centre"

    def sample(self, n, rng):
        t = np.linspace(0.0, 1.0, n)[:, None]
        return t * self.moments_.mean[None, :]


class PlanePath(Sampler):
    """A straight path through the centre in the plane of components (i, j), at ``angle`` degrees
    from axis i, from -extent to +extent standard deviations along that direction."""

    name = "plane_path"

    def __init__(self, i: int, j: int, angle: float = 0.0, extent: float = 3.0):
        self.i, self.j, self.angle, self.extent = int(i), int(j), float(angle), float(extent)

    def fit(self, z):
        super().fit(z)
        for c in (self.i, self.j):
            if not 0 <= c < self.dim_:
                raise ValueError(
                    f"generate plane_path axes: component {c} is outside 0..{self.dim_ - 1}"
                )
        u = np.zeros(self.dim_)
        a = math.radians(self.angle)
        u[self.i], u[self.j] = math.cos(a), math.sin(a)
        self.direction_ = u
        self.sd_ = float(math.sqrt(u @ self.moments_.cov @ u))
        return self

    def sample(self, n, rng):
        s = np.linspace(-self.extent, self.extent, n)[:, None] * self.sd_
        return self.moments_.mean[None, :] + s * self.direction_[None, :]

    @property
    def setting(self):
        return f"z{self.i}-z{self.j}-a{self.angle:g}"


class TruncatedNormal(Sampler):
    """The fitted multivariate normal, keeping draws inside the k-sigma shell (rejection)."""

    name = "mnd"

    def __init__(self, k: float = 3.0):
        self.k = float(k)

    def fit(self, z):
        super().fit(z)
        self.chol_ = np.linalg.cholesky(self.moments_.cov)
        self.limit_ = shell_d2(self.k, self.dim_)
        return self

    def sample(self, n, rng):
        out = np.empty((0, self.dim_))
        while len(out) < n:
            e = rng.standard_normal(size=(2 * n, self.dim_))
            out = np.vstack([out, e[np.einsum("ij,ij->i", e, e) <= self.limit_]])
        return self.moments_.mean + out[:n] @ self.chol_.T

    @property
    def setting(self):
        return f"k{self.k:g}"


class IndependentGaussians(Sampler):
    """Each component from its own normal (mean, sigma), ignoring the correlations."""

    name = "independent"

    def sample(self, n, rng):
        return self.moments_.mean + rng.standard_normal(size=(n, self.dim_)) * self.moments_.std


class Prior(Sampler):
    """N(0, I), whatever the latents: a VAE's prior (for a CAE, the classic mismatch: the cloud
    is elsewhere)."""

    name = "prior"

    def sample(self, n, rng):
        return rng.standard_normal(size=(n, self.dim_))


class PCAEllipsoid(Sampler):
    """Uniform inside the k-sigma ellipsoid in the PCA frame (of the leading ``components`` axes;
    the remaining coordinates stay at the centre)."""

    name = "pca_ellipsoid"

    def __init__(self, k: float = 3.0, components: int | None = None):
        self.k, self.components = float(k), components

    def fit(self, z):
        super().fit(z)
        w, v = describe.pca(self.moments_)
        m = self.components or self.dim_
        self.eigvals_, self.axes_ = w[:m], v[:, :m]
        self.radius_ = math.sqrt(shell_d2(self.k, m))
        return self

    def sample(self, n, rng):
        m = len(self.eigvals_)
        g = rng.standard_normal(size=(n, m))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        r = self.radius_ * rng.random(n) ** (1.0 / m)
        y = g * r[:, None] * np.sqrt(self.eigvals_)
        return self.moments_.mean + y @ self.axes_.T

    @property
    def setting(self):
        return f"k{self.k:g}" + (f"-m{self.components}" if self.components else "")


class GaussianMixtureSampler(Sampler):
    """Ex-post density estimation (Ghosh et al., ICLR 2020): a full-covariance Gaussian mixture
    fitted to (a seeded subsample of) the latents with scikit-learn, its number of components chosen
    among ``candidates`` by the mean log-likelihood of a part of the fitting vectors set aside for
    it (``selection_fraction``; never the evaluation's holdout).

    Cost: one EM iteration costs about ``n k p^2`` for n vectors, k components of dimension p, so
    the candidates are each fitted from one start, and only the chosen size is refitted from
    ``n_init`` starts in all (the best lower bound is kept, the selection's fit among them): at
    ``candidates`` (1, 5, 10, 20) and 3 starts that is 36 + 2k component fits instead of 108.
    ``max_fit`` caps n. A fit that did not converge is logged as a warning and recorded in
    :attr:`selection` (the sampler's ``meta.json`` and the summary's ``gmm_*`` columns)."""

    name = "gmm"

    def __init__(
        self,
        candidates=(1, 5, 10, 20),
        max_fit: int = 10000,
        seed: int = 0,
        max_iter: int = 200,
        n_init: int = 3,
        selection_fraction: float = 0.1,
    ):
        self.candidates = [int(c) for c in np.atleast_1d(candidates)]
        self.max_fit, self.seed, self.max_iter = int(max_fit), seed, max_iter
        self.n_init, self.selection_fraction = int(n_init), float(selection_fraction)
        self.selection: dict = {}

    def _mixture(self, k: int, n_init: int, seed: int):
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(
            k,
            covariance_type="full",
            random_state=seed,
            max_iter=self.max_iter,
            n_init=n_init,
            reg_covar=1e-5,
        )

    def fit(self, z):
        super().fit(z)
        n = z.shape[0]
        rng = np.random.default_rng(self.seed)
        idx = rng.permutation(n)[: min(n, self.max_fit)]
        x = describe.take_rows(z, np.sort(idx))
        x = x[rng.permutation(len(x))]
        n_sel = int(round(len(x) * self.selection_fraction)) if len(self.candidates) > 1 else 0
        held, train = x[:n_sel], x[n_sel:]
        scores, fits = {}, {}
        for k in self.candidates:
            if k > len(train):
                raise ValueError(
                    f"generate.samplers.gmm.components: {k} components for {len(train)} vectors"
                )
            fits[k] = self._mixture(k, 1, self.seed).fit(train)
            scores[k] = float(fits[k].score(held)) if n_sel else float("nan")
        best = max(scores, key=lambda k: scores[k]) if n_sel else self.candidates[0]
        if self.n_init > 1:
            more = self._mixture(best, self.n_init - 1, self.seed + 1).fit(train)
            if more.lower_bound_ > fits[best].lower_bound_:
                fits[best] = more
        for k, g in fits.items():
            if not g.converged_:
                log.warning(
                    "gmm with %d components: EM did not converge in %d iterations (%s)",
                    k,
                    self.max_iter,
                    f"best of {self.n_init} starts" if k == best else "its one selection start",
                )
        self.gmm_ = fits[best]
        self.selection = {
            "gmm_components": best,
            "gmm_converged": bool(self.gmm_.converged_),
            "gmm_candidates": {
                str(k): {
                    "heldout_loglik": scores[k],
                    "converged": bool(fits[k].converged_),
                    "starts": self.n_init if k == best else 1,
                    "lower_bound": float(fits[k].lower_bound_),
                }
                for k in self.candidates
            },
            "gmm_fitted_on": len(train),
            "gmm_selected_on": n_sel,
        }
        log.info("gmm: %d components chosen by held-out log-likelihood %s", best, scores)
        return self

    def sample(self, n, rng):
        g = self.gmm_
        comp = rng.choice(len(g.weights_), size=n, p=g.weights_ / g.weights_.sum())
        out = np.empty((n, self.dim_))
        for c in np.unique(comp):
            sel = comp == c
            out[sel] = rng.multivariate_normal(g.means_[c], g.covariances_[c], size=int(sel.sum()))
        return out

    @property
    def setting(self):
        if len(self.candidates) == 1:
            return f"n{self.candidates[0]}"
        return "selected"


def build_samplers(spec: dict, dominant: list[int], seed: int = 0) -> list[Sampler]:
    """Samplers from the config's ``generate.samplers`` block (each key a sampler, lists = settings).
    Every setting comes from the block: the config schema holds the defaults (one source), and its
    validation fills them in."""
    out: list[Sampler] = []
    for name, opts in spec.items():
        opts = opts or {}

        def opt(key):
            if key not in opts:
                raise ValueError(
                    f"generate.samplers.{name}.{key}: missing (a validated config has the "
                    "schema's default)"
                )
            return opts[key]

        if name == "uniform_box":
            out += [UniformBox(b) for b in opt("b")]
        elif name == "intervals":
            out += [ComponentIntervals(f) for f in opt("f")]
        elif name == "origin_to_centre":
            out.append(OriginToCentre())
        elif name == "plane_path":
            axes = opt("axes") or [dominant[:2] if len(dominant) >= 2 else [0, 1]]
            out += [PlanePath(i, j, a, opt("extent")) for i, j in axes for a in opt("angles")]
        elif name == "mnd":
            out += [TruncatedNormal(k) for k in opt("k")]
        elif name == "independent":
            out.append(IndependentGaussians())
        elif name == "prior":
            out.append(Prior())
        elif name == "pca_ellipsoid":
            out += [PCAEllipsoid(k, opt("components")) for k in opt("k")]
        elif name == "gmm":
            out.append(
                GaussianMixtureSampler(
                    opt("components"),
                    opt("max_fit"),
                    seed,
                    n_init=opt("n_init"),
                    selection_fraction=opt("selection_fraction"),
                )
            )
        else:
            raise ValueError(f"generate.samplers.{name}: unknown sampler")
    return out


def sampler_id(s: Sampler) -> str:
    return f"{s.name}-{s.setting}" if s.setting else s.name
