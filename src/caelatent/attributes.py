"""Face attributes in the latent cloud, and latent arithmetic.

An attribute's direction is the difference between the mean latent vector of the training images
that have it (+1) and of those that do not (-1). Images without a row in the attribute file carry
the missing value 0 in ``latents.zarr`` and are excluded from every attribute statistic; their
number is written to the outputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from . import stats
from .io import write_json, write_npz, write_tsv
from .samplers import shell_d2
from .store import atomic_path

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


def load_labelled(latents) -> Labelled:
    """Rows of ``latents.zarr`` that have attribute values; the others are counted and logged."""
    g = zarr.open_group(latents, mode="r")
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
        z=stats.take_rows(g["z"], rows),
        values=values[rows],
        train=g["split"][:][rows] == 0,
        ids=g["ids"][:][rows],
        names=names,
        total=len(values),
        excluded=excluded,
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

    def save(self, path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                names=np.array(self.names),
                mean_pos=self.mean_pos,
                mean_neg=self.mean_neg,
                n_pos=self.n_pos,
                n_neg=self.n_neg,
            )

    @classmethod
    def load(cls, path) -> Directions:
        with np.load(path) as f:
            return cls(
                [str(n) for n in f["names"]], f["mean_pos"], f["mean_neg"], f["n_pos"], f["n_neg"]
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


# --- rule attributes ----------------------------------------------------------------------------------


def run_attributes(
    latents, moments_npz, out_tsv, out_npz, out_json, *, min_count: int, pcs: int
) -> dict:
    """Per attribute: counts, direction, its projection on the principal axes, how well it separates
    holdout images, and where its images lie inside the fitted normal (Mahalanobis radius)."""
    lab = load_labelled(latents)
    mom = stats.Moments.load(moments_npz)
    dirs, skipped = attribute_directions(
        lab.z[lab.train], lab.values[lab.train], lab.names, min_count
    )
    _, vecs = stats.pca(mom)
    pcs = min(pcs, vecs.shape[1])
    cos = dirs.unit @ vecs[:, :pcs]  # [K, pcs], eigenvectors are unit vectors
    w = stats.whitener(mom)
    radius = np.sqrt(stats.mahalanobis_sq(lab.z, mom))
    limit = np.sqrt(shell_d2(3.0, len(mom.mean)))
    hold = ~lab.train
    table = {
        k: []
        for k in (
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
    }
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
    write_tsv(out_tsv, table)
    dirs.save(out_npz)
    summary = {
        "images": lab.total,
        "with_attributes": len(lab.z),
        "excluded_no_attribute_row": lab.excluded,
        "train_with_attributes": int(lab.train.sum()),
        "holdout_with_attributes": int(hold.sum()),
        "attributes": len(lab.names),
        "analysed": len(dirs.names),
        "skipped": skipped,
        "min_count": min_count,
        "pc_cosines": {n: cos[k].round(4).tolist() for k, n in enumerate(dirs.names)},
        "radius_3sigma": float(limit),
        "notes": "direction = mean latent of training images with the attribute minus mean of those without; "
        "holdout_auc: ROC AUC of holdout images' projection on the direction (holdout_auc_fisher: on the whitened, Fisher discriminant direction cov^-1 direction); radii are Mahalanobis "
        "distances from the fitted normal (moments of all latents)",
    }
    write_json(out_json, summary)
    log.info(
        "attributes: %d analysed, %d skipped, %d images excluded (no attribute row)",
        len(dirs.names),
        len(skipped),
        lab.excluded,
    )
    return summary


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


def run_arithmetic(
    latents,
    moments_npz,
    decoder_path,
    directions_npz,
    out_tsv,
    out_json,
    out_images,
    *,
    attributes: list[str],
    max_scale: float,
    steps: int,
    faces: int,
    morph_pairs: int,
    morph_steps: int,
    min_confidence: float,
    seed: int,
    batch_size: int = 256,
) -> dict:
    """Grids that add attribute directions to holdout faces and morph between holdout faces; MTCNN
    reports for every image whether a face survives. The decoded grids go to ``out_images`` (NPZ:
    ``<grid>`` images and ``<grid>_confidence``), their titles to ``out_json``, for rule
    arithmetic_plots."""
    from .detect import FaceDetector
    from .generate import decode
    from .train import load_model

    dirs = Directions.load(directions_npz)
    check_names(attributes, dirs.names, "attributes.arithmetic.attributes")
    lab, mom = load_labelled(latents), stats.Moments.load(moments_npz)
    hold = np.flatnonzero(~lab.train)
    if len(hold) < max(faces, 2 * morph_pairs):
        raise ValueError(
            f"{latents}: {len(hold)} holdout images with attributes; attributes.arithmetic needs "
            f"{max(faces, 2 * morph_pairs)} (faces, 2 x morph_pairs)"
        )
    rng = np.random.default_rng(seed)
    pick = rng.choice(hold, size=faces, replace=False)
    pair = rng.choice(hold, size=2 * morph_pairs, replace=False).reshape(2, morph_pairs)
    decoder, det = load_model(decoder_path), FaceDetector(min_confidence)
    s_values = scales(max_scale, steps)
    jobs = [
        (name, attribute_grid(lab.z[pick], dirs.of(name), s_values), pick, s_values, "scale")
        for name in attributes
    ]
    jobs.append(
        (
            "morph",
            morph_grid(lab.z[pair[0]], lab.z[pair[1]], morph_steps),
            pair[0],
            np.linspace(0, 1, morph_steps),
            "t",
        )
    )
    rows = {
        k: []
        for k in (
            "grid",
            "row",
            "image_id",
            "other_id",
            "step",
            "value",
            "radius",
            "confidence",
            "face",
        )
    }
    summary = {"min_confidence": min_confidence, "scales": s_values.tolist(), "grids": {}}
    arrays = {}
    for name, zg, who, values, label in jobs:
        n_rows, n_cols, dim = zg.shape
        imgs = decode(decoder, zg.reshape(-1, dim), batch_size)
        conf = det.confidences(imgs).reshape(n_rows, n_cols)
        radius = np.sqrt(stats.mahalanobis_sq(zg.reshape(-1, dim), mom)).reshape(n_rows, n_cols)
        found = conf >= min_confidence
        for r in range(n_rows):
            for c in range(n_cols):
                rows["grid"].append(name)
                rows["row"].append(r)
                rows["image_id"].append(int(lab.ids[who[r]]))
                rows["other_id"].append(int(lab.ids[pair[1][r]]) if name == "morph" else -1)
                rows["step"].append(c)
                rows["value"].append(float(values[c]))
                rows["radius"].append(float(radius[r, c]))
                rows["confidence"].append(float(conf[r, c]))
                rows["face"].append(bool(found[r, c]))
        arrays[name] = imgs.reshape(n_rows, n_cols, *imgs.shape[1:])
        arrays[f"{name}_confidence"] = conf
        summary["grids"][name] = {
            "label": label,
            label: values.round(4).tolist(),
            "face_rate": found.mean(axis=0).tolist(),
            "rows_all_faces": int(found.all(axis=1).sum()),
            "rows": n_rows,
        }
        if name == "morph":
            titles = [f"{i:06d}→{j:06d}" for i, j in zip(lab.ids[pair[0]], lab.ids[pair[1]])]
            head = f"Straight paths between {n_rows} pairs of holdout faces"
        else:
            col = lab.values[:, lab.names.index(name)][who]
            titles = [f"{lab.ids[i]:06d} ({'+' if v == 1 else '−'})" for i, v in zip(who, col)]
            head = f"{name}: holdout faces + s × direction (mean with − mean without)"
        summary["grids"][name] |= {"title": head, "row_titles": titles}
        log.info("%s: face rate per step %s", name, np.round(found.mean(axis=0), 2).tolist())
    write_npz(out_images, **arrays)
    write_tsv(out_tsv, rows)
    write_json(out_json, summary)
    return summary
