"""Face attributes in the latent cloud, and latent arithmetic.

An attribute's direction is the difference between the mean latent vector of the training images
that have it (+1) and of those that do not (-1). Images without a row in the attribute file carry
the missing value 0 in ``latents.zarr`` and are excluded from every attribute statistic; their
number is written to the outputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from . import describe
from ..files.store import TRAIN
from .describe import shell_d2

log = logging.getLogger(__name__)


@dataclass
class Labelled:
    """The latent vectors of the images that have attribute values."""

    z: np.ndarray  # [n, d] float64
    values: np.ndarray  # [n, K] int8, +1 / -1
    train: np.ndarray  # [n] bool
    ids: np.ndarray  # [n] image ids
    names: list[str]
    total: int  # rows in latents.zarr
    excluded: int  # rows without attribute values
    rows: np.ndarray  # [n] their rows in latents.zarr (and images.zarr)


def labelled(g, latents: str) -> Labelled:
    """Rows of the opened ``latents.zarr`` group ``g`` (named ``latents`` in errors) that have
    attribute values; the others are counted and logged."""
    if "attributes" not in g:
        raise ValueError(
            f"{latents} holds no attributes (the dataset was prepared without an attribute file)"
        )
    a = g["attributes"]
    names = list(a.attrs["names"])
    missing = a.attrs.get("missing_value", 0)
    values = a[:]
    bad = ~np.isin(values, (-1, 1, missing))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"{latents}: attribute {names[c]} of row {r} is {values[r, c]}; expected -1, 1 or {missing}"
        )
    has = (values != missing).all(axis=1)
    rows = np.flatnonzero(has)
    excluded = int((~has).sum())
    if excluded:
        log.warning(
            "%d of %d images have no attribute row and are excluded from the attribute statistics",
            excluded,
            len(values),
        )
    if len(rows) == 0:
        raise ValueError(f"{latents}: no image has attribute values")
    return Labelled(
        z=describe.take_rows(g["z"], rows),
        values=values[rows],
        train=g["split"][:][rows] == TRAIN,
        ids=g["ids"][:][rows],
        names=names,
        total=len(values),
        excluded=excluded,
        rows=rows,
    )


@dataclass
class Directions:
    names: list[str]
    mean_pos: np.ndarray  # [K, d]
    mean_neg: np.ndarray  # [K, d]
    n_pos: np.ndarray  # [K] training images with the attribute
    n_neg: np.ndarray

    @property
    def direction(self) -> np.ndarray:
        return self.mean_pos - self.mean_neg

    @property
    def unit(self) -> np.ndarray:
        d = self.direction
        return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)

    def of(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise ValueError(
                f"attribute {name!r} has no direction (available: {', '.join(self.names)})"
            )
        return self.direction[self.names.index(name)]

    def arrays(self) -> dict[str, np.ndarray]:
        """The directions as named arrays (rule attributes' ``attribute_directions.npz``)."""
        fields = dict(mean_pos=self.mean_pos, mean_neg=self.mean_neg, n_pos=self.n_pos)
        return dict(names=np.array(self.names), n_neg=self.n_neg, **fields)

    @classmethod
    def from_arrays(cls, a: dict) -> Directions:
        return cls(
            [str(n) for n in a["names"]], a["mean_pos"], a["mean_neg"], a["n_pos"], a["n_neg"]
        )


def attribute_directions(
    z: np.ndarray, values: np.ndarray, names: list[str], min_count: int
) -> tuple[Directions, list[dict]]:
    """Mean latent of positive and negative images per attribute; attributes with fewer than
    ``min_count`` images on either side are skipped and returned with the reason."""
    keep, counts, skipped = [], [], []
    for k, name in enumerate(names):
        n_pos, n_neg = int((values[:, k] == 1).sum()), int((values[:, k] == -1).sum())
        if min(n_pos, n_neg) < min_count:
            skipped.append(
                {
                    "attribute": name,
                    "n_pos": n_pos,
                    "n_neg": n_neg,
                    "reason": f"fewer than {min_count} images with or without it",
                }
            )
            log.warning(
                "attribute %s skipped: %d with, %d without (attributes.stats.min_count=%d)",
                name,
                n_pos,
                n_neg,
                min_count,
            )
        else:
            keep.append(k)
            counts.append((n_pos, n_neg))
    pos = np.array([z[values[:, k] == 1].mean(axis=0) for k in keep]).reshape(len(keep), z.shape[1])
    neg = np.array([z[values[:, k] == -1].mean(axis=0) for k in keep]).reshape(
        len(keep), z.shape[1]
    )
    n_pos, n_neg = np.array(counts, int).reshape(len(keep), 2).T
    return Directions([names[k] for k in keep], pos, neg, n_pos, n_neg), skipped


def separation_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of ``scores`` for labels +1 vs -1 (nan when one class is absent)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels == 1, scores))


TABLE_COLUMNS = (
    "attribute",
    "n_pos",
    "n_neg",
    "positive_fraction",
    "direction_norm",
    "mahalanobis_separation",
    "holdout_auc",
    "holdout_auc_fisher",
    "top_pc",
    "top_pc_cos",
    "radius_median_pos",
    "radius_median_neg",
    "inside_3sigma_pos",
    "inside_3sigma_neg",
)


def attribute_table(
    lab: Labelled, dirs: Directions, mom: describe.Moments, pcs: int
) -> tuple[dict, np.ndarray, float]:
    """Per attribute: counts, direction, its projection on the principal axes, how well it separates
    holdout images, and where its images lie inside the fitted normal (Mahalanobis radius).

    Returns the table (:data:`TABLE_COLUMNS`), the cosines of each direction with the first ``pcs``
    principal axes [K, pcs], and the 3-sigma shell's radius."""
    _, vecs = describe.pca(mom)
    cos = dirs.unit @ vecs[:, : min(pcs, vecs.shape[1])]  # eigenvectors are unit vectors
    w = describe.whitener(mom)
    radius = np.sqrt(describe.mahalanobis_sq(lab.z, mom))
    limit = float(np.sqrt(shell_d2(3.0, len(mom.mean))))
    hold = ~lab.train
    table: dict[str, list] = {k: [] for k in TABLE_COLUMNS}
    for k, name in enumerate(dirs.names):
        col = lab.values[:, lab.names.index(name)]
        d = dirs.direction[k]
        top = int(np.argmax(np.abs(cos[k])))
        table["attribute"].append(name)
        table["n_pos"].append(int(dirs.n_pos[k]))
        table["n_neg"].append(int(dirs.n_neg[k]))
        table["positive_fraction"].append(float((col == 1).mean()))
        table["direction_norm"].append(float(np.linalg.norm(d)))
        table["mahalanobis_separation"].append(float(np.linalg.norm(w @ d)))
        table["holdout_auc"].append(separation_auc(lab.z[hold] @ d, col[hold]))
        table["holdout_auc_fisher"].append(separation_auc(lab.z[hold] @ (w.T @ (w @ d)), col[hold]))
        table["top_pc"].append(top + 1)
        table["top_pc_cos"].append(float(cos[k, top]))
        for side, v in (("pos", 1), ("neg", -1)):
            r = radius[col == v]
            table[f"radius_median_{side}"].append(float(np.median(r)))
            table[f"inside_3sigma_{side}"].append(float((r <= limit).mean()))
    return table, cos, limit


def attribute_summary(lab: Labelled, dirs: Directions, skipped, min_count: int, cos, limit) -> dict:
    """The attribute rule's summary: the images counted (with and without attribute rows, per
    split), the attributes analysed and skipped, each direction's cosines with the principal axes
    (``cos``, from :func:`attribute_table`) and the 3-sigma radius ``limit``."""
    return {
        "images": lab.total,
        "with_attributes": len(lab.z),
        "excluded_no_attribute_row": lab.excluded,
        "train_with_attributes": int(lab.train.sum()),
        "holdout_with_attributes": int((~lab.train).sum()),
        "attributes": len(lab.names),
        "analysed": len(dirs.names),
        "skipped": skipped,
        "min_count": min_count,
        "pc_cosines": {n: cos[k].round(4).tolist() for k, n in enumerate(dirs.names)},
        "radius_3sigma": limit,
        "notes": "direction = mean latent of training images with the attribute minus mean of those "
        "without; holdout_auc: ROC AUC of holdout images' projection on the direction "
        "(holdout_auc_fisher: on the whitened, Fisher discriminant direction cov^-1 direction); "
        "radii are Mahalanobis distances from the fitted normal (moments of all latents)",
    }


def figure_data(
    lab: Labelled, dirs: Directions, mom: describe.Moments, pcs: int, histogram_pcs: int
) -> dict:
    """What the attribute figures draw: the ``cosines`` of each direction with the first ``pcs``
    principal axes; every labelled image's Mahalanobis ``radius`` in the fitted normal, its
    ``values`` (+1/-1) of the analysed attributes (``names``) and its ``projections`` on the first
    ``histogram_pcs`` axes with their ``variances``; the 3-sigma shell's radius."""
    w, vecs = describe.pca(mom)
    columns = [lab.names.index(n) for n in dirs.names]
    top = vecs[:, : min(histogram_pcs, vecs.shape[1])]
    return {
        "cosines": dirs.unit @ vecs[:, : min(pcs, vecs.shape[1])],
        "radius": np.sqrt(describe.mahalanobis_sq(lab.z, mom)).astype(np.float32),
        "values": lab.values[:, columns].astype(np.int8),
        "names": np.asarray(dirs.names, dtype=str),
        "projections": ((lab.z - mom.mean) @ top).astype(np.float32),
        "variances": w[: top.shape[1]],
        "shell_radius": float(np.sqrt(shell_d2(3.0, len(mom.mean)))),
        "excluded": lab.excluded,
    }


def check_names(wanted, available, key: str) -> None:
    for n in wanted:
        if n not in available:
            raise ValueError(
                f"{key}: {n!r} is not an analysed attribute of this dataset "
                f"(available: {', '.join(available)})"
            )


# --- rule arithmetic ------------------------------------------------------------------------------------


def scales(max_scale: float, steps: int) -> np.ndarray:
    """``steps`` multiples of the direction from -max_scale to +max_scale (0 included when odd)."""
    return np.linspace(-max_scale, max_scale, steps)


def attribute_grid(
    z_faces: np.ndarray, direction: np.ndarray, scale_values: np.ndarray
) -> np.ndarray:
    """[faces, scales, d] latent vectors z + s * direction."""
    return z_faces[:, None, :] + scale_values[None, :, None] * direction[None, None, :]


def morph_grid(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """[pairs, steps, d] straight paths from each z_a to its z_b."""
    t = np.linspace(0, 1, steps)[None, :, None]
    return (1 - t) * z_a[:, None, :] + t * z_b[:, None, :]


@dataclass
class Grid:
    """Latent vectors of one arithmetic grid and what its rows and columns are."""

    name: str  # an attribute, or "morph"
    z: np.ndarray  # [rows, columns, d]
    label: str  # what a column's value is: "scale" or "t"
    values: np.ndarray  # [columns]
    image_ids: np.ndarray  # [rows] the holdout image each row starts from
    other_ids: np.ndarray  # [rows] the image a morph row ends at (-1 elsewhere)
    title: str
    row_titles: list[str]


def arithmetic_grids(
    lab: Labelled,
    dirs: Directions,
    *,
    attributes: list[str],
    max_scale: float,
    steps: int,
    faces: int,
    morph_pairs: int,
    morph_steps: int,
    seed: int,
    source: str = "latents.zarr",
) -> list[Grid]:
    """A grid per attribute (holdout faces + s x its direction, s in ``scales``) and one of straight
    paths between pairs of holdout faces."""
    check_names(attributes, dirs.names, "attributes.arithmetic.attributes")
    hold = np.flatnonzero(~lab.train)
    if len(hold) < max(faces, 2 * morph_pairs):
        raise ValueError(
            f"{source}: {len(hold)} holdout images with attributes; attributes.arithmetic needs "
            f"{max(faces, 2 * morph_pairs)} (faces, 2 x morph_pairs)"
        )
    rng = np.random.default_rng(seed)
    pick = rng.choice(hold, size=faces, replace=False)
    pair = rng.choice(hold, size=2 * morph_pairs, replace=False).reshape(2, morph_pairs)
    s_values = scales(max_scale, steps)
    out = []
    for name in attributes:
        col = lab.values[:, lab.names.index(name)][pick]
        titles = [f"{lab.ids[i]:06d} ({'+' if v == 1 else '−'})" for i, v in zip(pick, col)]
        head = f"{name}: holdout faces + s × direction (mean with − mean without)"
        zg = attribute_grid(lab.z[pick], dirs.of(name), s_values)
        out.append(
            Grid(name, zg, "scale", s_values, lab.ids[pick], np.full(faces, -1), head, titles)
        )
    a, b = lab.ids[pair[0]], lab.ids[pair[1]]
    out.append(
        Grid(
            "morph",
            morph_grid(lab.z[pair[0]], lab.z[pair[1]], morph_steps),
            "t",
            np.linspace(0, 1, morph_steps),
            a,
            b,
            f"Straight paths between {morph_pairs} pairs of holdout faces",
            [f"{i:06d}→{j:06d}" for i, j in zip(a, b)],
        )
    )
    return out


class PixelClassifier:
    """Whether a decoded image shows an attribute, judged from its pixels alone: a logistic
    regression on the leading principal components of real training images' pixels, one per
    attribute. It never sees latent vectors, so it tells whether adding an attribute direction in
    latent space changes the attribute in the image."""

    def __init__(self, images: np.ndarray, values: np.ndarray, names: list[str], seed: int = 0):
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(images, np.float32).reshape(len(images), -1) / 255
        self.pca = PCA(min(50, len(x) - 1), random_state=seed).fit(x)
        feats = self.pca.transform(x)
        self.names, self.models, self.accuracy = list(names), {}, {}
        for k, name in enumerate(names):
            y = values[:, k] == 1
            if y.all() or not y.any():
                continue
            m = LogisticRegression(max_iter=2000, class_weight="balanced").fit(feats, y)
            self.models[name] = m
            self.accuracy[name] = float(m.score(feats, y))

    def notes(self, n_images: int) -> dict:
        """What the classifier is, for the arithmetic's summary."""
        return {
            "images": n_images,
            "pca_components": int(self.pca.n_components_),
            "training_accuracy": self.accuracy,
            "what": "logistic regression on the pixel PCA of real training images, one per "
            "attribute; attribute_probability: its P(attribute) for each decoded image",
        }

    def probability(self, name: str, images: np.ndarray) -> np.ndarray:
        """P(attribute | pixels) of each image (NaN where the attribute had one class only)."""
        if name not in self.models:
            return np.full(len(images), np.nan)
        x = np.asarray(images, np.float32).reshape(len(images), -1) / 255
        return self.models[name].predict_proba(self.pca.transform(x))[:, 1]


#: real training images the arithmetic's pixel classifier is fitted on (at most): it bounds the
#: images the rule reads and the cost of the classifier's PCA
CLASSIFIER_IMAGES = 2000
#: the arithmetic table's columns (``face`` follows them)
ARITHMETIC_COLUMNS = (
    "grid",
    "row",
    "image_id",
    "other_id",
    "step",
    "value",
    "radius",
    "confidence",
    "attribute_probability",
)


def classifier_rows(train: np.ndarray, seed: int) -> np.ndarray:
    """Rows of the labelled set whose real images the pixel classifier is fitted on: a seeded
    sample of at most :data:`CLASSIFIER_IMAGES` training rows, sorted (Zarr reads them in order)."""
    rows = np.flatnonzero(train)
    return np.sort(np.random.default_rng([seed, 2]).permutation(rows)[:CLASSIFIER_IMAGES])


def grid_scores(g, conf, radius, prob, min_confidence: float) -> tuple[dict[str, list], dict]:
    """One decoded grid's rows of the arithmetic table (:data:`ARITHMETIC_COLUMNS` and ``face``)
    and its summary: labels, face rate and attribute probability per column (``conf``, ``radius``,
    ``prob``: the MTCNN confidence, Mahalanobis radius and classifier probability of each cell)."""
    n_rows, n_cols = conf.shape
    found = conf >= min_confidence
    rows: dict[str, list] = {k: [] for k in (*ARITHMETIC_COLUMNS, "face")}
    for r, c in np.ndindex(n_rows, n_cols):
        cells = (g.name, r, int(g.image_ids[r]), int(g.other_ids[r]), c, float(g.values[c]))
        scores = (float(radius[r, c]), float(conf[r, c]), float(prob[r, c]))
        for k, v in zip(ARITHMETIC_COLUMNS, (*cells, *scores)):
            rows[k].append(v)
        rows["face"].append(bool(found[r, c]))
    summary = {
        "label": g.label,
        g.label: g.values.round(4).tolist(),
        "face_rate": found.mean(axis=0).tolist(),
        "rows_all_faces": int(found.all(axis=1).sum()),
        "attribute_probability": prob.mean(axis=0).tolist(),
        "rows": n_rows,
        "title": g.title,
        "row_titles": g.row_titles,
    }
    return rows, summary


def score_grids(grids, decode, detector, judge, moments, min_confidence: float):
    """Decode each grid of :func:`arithmetic_grids` (``decode``: latent rows -> uint8 images) and
    score every image: MTCNN's confidence (``detector``), its Mahalanobis radius from ``moments``
    and the pixel classifier's probability of the grid's attribute (``judge``). Returns the
    arithmetic table's columns (:data:`ARITHMETIC_COLUMNS` and ``face``), each grid's summary
    (:func:`grid_scores`) and the arrays: ``<grid>`` the images, ``<grid>_confidence``."""
    rows: dict[str, list] = {k: [] for k in (*ARITHMETIC_COLUMNS, "face")}
    summaries, arrays = {}, {}
    for g in grids:
        n_rows, n_cols, dim = g.z.shape
        z = g.z.reshape(-1, dim)
        imgs = decode(z)
        conf = detector.confidences(imgs).reshape(n_rows, n_cols)
        radius = np.sqrt(describe.mahalanobis_sq(z, moments)).reshape(n_rows, n_cols)
        prob = judge.probability(g.name, imgs).reshape(n_rows, n_cols)
        got, summaries[g.name] = grid_scores(g, conf, radius, prob, min_confidence)
        for k, v in got.items():
            rows[k] += v
        arrays[g.name] = imgs.reshape(n_rows, n_cols, *imgs.shape[1:])
        arrays[f"{g.name}_confidence"] = conf
        rates = summaries[g.name]["face_rate"]
        log.info("%s: face rate per step %s", g.name, np.round(rates, 2).tolist())
    return rows, summaries, arrays
