"""Decode each sampler's latent vectors into images and labelled grids; evaluate them.

Layout of ``results/<exp>/samples/``: one folder per sampler and setting (``uniform_box-b1.5``)
holding ``z.npy`` [n, d] and ``images.npy`` uint8 [n, H, W, 3], plus the references
``holdout_real`` and ``holdout_reconstruction``, and ``reference/images.npy``: real holdout
images (disjoint from ``holdout_real``) that the realism metrics compare every set with (their
rows in images.zarr in ``reference/rows.npy``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import zarr

from . import detect, realism
from . import samplers as smp
from . import stats
from .io import read_tsv, write_json, write_tsv
from .store import atomic_path

log = logging.getLogger(__name__)
ORDERED = (smp.OriginToCentre, smp.PlanePath)  # samplers whose vectors lie along a path
REFERENCES = ("holdout_real", "holdout_reconstruction")
REFERENCE_SET = (
    "reference"  # real holdout images, disjoint from holdout_real, for the realism metrics
)
PCA_FIT_SET = (
    "pca_fit"  # real training images the pixel PCA is fitted on (disjoint from every compared set)
)
MIN_REFERENCE = 10


def decode(decoder, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
    x = np.asarray(decoder.predict(np.asarray(z, np.float32), batch_size=batch_size, verbose=0))
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def run_generate(
    images_zarr,
    latents,
    decoder_path,
    dominant_tsv,
    out_dir,
    *,
    spec: dict,
    n: int,
    seed: int,
    n_reference: int = 1000,
    batch_size: int = 256,
) -> list[str]:
    """Fit every sampler on the training latents, draw ``n`` vectors each, decode; write each set
    with what its grid shows (``meta.json``: whether the vectors lie along a path, their labels)."""
    from .train import load_model

    decoder = load_model(decoder_path)
    lat = zarr.open_group(latents, mode="r")
    split = lat["split"][:]
    train_idx, hold_idx = np.flatnonzero(split == 0), np.flatnonzero(split == 1)
    z_train = stats.take_rows(lat["z"], train_idx)
    dominant = [int(c) for c in read_tsv(dominant_tsv)["component"]]
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp_out:
        tmp_out.mkdir(parents=True)
        # references: real holdout images and their reconstructions, and a disjoint set of real
        # holdout images that realism metrics compare every sampler with
        both = np.random.default_rng(seed).choice(
            hold_idx, size=min(n + n_reference, len(hold_idx)), replace=False
        )
        pick, ref = np.sort(both[:n]), np.sort(both[n:])
        if len(ref) < min(n_reference, MIN_REFERENCE):
            raise ValueError(
                f"{images_zarr}: {len(hold_idx)} holdout images leave {len(ref)} real reference images "
                f"after generate.n_samples={n}; realism metrics need at least {MIN_REFERENCE} "
                "(lower generate.n_samples or hold out more images)"
            )
        if len(ref) < n_reference:
            log.warning(
                "generate.n_reference=%d, but only %d holdout images are left after the %d real samples; "
                "using %d",
                n_reference,
                len(ref),
                len(pick),
                len(ref),
            )
        images = zarr.open_group(images_zarr, mode="r")["images"]
        real = images.get_orthogonal_selection((pick, slice(None), slice(None), slice(None)))
        ref_dir = tmp_out / REFERENCE_SET
        ref_dir.mkdir()
        np.save(
            ref_dir / "images.npy",
            images.get_orthogonal_selection((ref, slice(None), slice(None), slice(None))),
        )
        np.save(ref_dir / "rows.npy", ref)
        # the pixel-PCA feature space is fitted on training images, not on the images it compares
        fit_rows = np.sort(
            np.random.default_rng([seed, 1]).choice(
                train_idx, size=min(n_reference, len(train_idx)), replace=False
            )
        )
        (tmp_out / PCA_FIT_SET).mkdir()
        np.save(
            tmp_out / PCA_FIT_SET / "images.npy",
            images.get_orthogonal_selection((fit_rows, slice(None), slice(None), slice(None))),
        )
        np.save(tmp_out / PCA_FIT_SET / "rows.npy", fit_rows)
        z_hold = stats.take_rows(lat["z"], pick)
        for name, z, imgs in (
            ("holdout_real", z_hold, real),
            ("holdout_reconstruction", z_hold, decode(decoder, z_hold, batch_size)),
        ):
            meta = {"sampler": name, "setting": "", "n": len(z), "title": name.replace("_", " ")}
            _save(tmp_out / name, z, imgs, {**meta, "ordered": False, "labels": None})
        ids = []
        for k, s in enumerate(smp.build_samplers(spec, dominant, seed)):
            sid = smp.sampler_id(s)
            log.info("sampler %s: fitting on %d training latents", sid, len(z_train))
            s.fit(z_train)
            z = s.sample(n, np.random.default_rng([seed, k]))
            imgs = decode(decoder, z, batch_size)
            labels = None  # vectors along a path are labelled with their position on it
            if isinstance(s, smp.OriginToCentre):
                labels = [f"t={t:.2f}" for t in np.linspace(0, 1, len(z))]
            if isinstance(s, smp.PlanePath):
                labels = [f"{v:+.1f}σ" for v in np.linspace(-s.extent, s.extent, len(z))]
            meta = {"sampler": s.name, "setting": s.setting, "n": len(z)}
            meta |= {"title": f"{s.name} {s.setting}".strip(), "ordered": isinstance(s, ORDERED)}
            _save(tmp_out / sid, z, imgs, {**meta, "labels": labels})
            ids.append(sid)
        (tmp_out / "index.json").write_text(
            json.dumps({"references": list(REFERENCES), "samplers": ids}, indent=2) + "\n"
        )
    return ids


def _save(d: Path, z, imgs, meta) -> None:
    d.mkdir(parents=True)
    np.save(d / "z.npy", np.asarray(z, np.float32))
    np.save(d / "images.npy", imgs)
    (d / "meta.json").write_text(json.dumps(meta) + "\n")


# --- evaluation ---------------------------------------------------------------------------------


def nearest_distances(z: np.ndarray, z_ref, exclude: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distance of each row of ``z`` to its nearest row of ``z_ref`` (streamed)."""
    z = np.asarray(z, np.float64)
    best = np.full(len(z), np.inf)
    zz = (z * z).sum(axis=1)[:, None]
    for _, b in stats.blocks(z_ref):
        d2 = zz + (b * b).sum(axis=1)[None, :] - 2 * z @ b.T
        best = np.minimum(best, d2.min(axis=1))
    return np.sqrt(np.maximum(best, 0))


#: summary columns of the realism metrics, and whether higher is better (None: closest to 1 is best)
REALISM = {
    "fd_onet": False,
    "precision_onet": True,
    "recall_onet": True,
    "fd_pixels": False,
    "precision_pixels": True,
    "recall_pixels": True,
    "diversity": None,
}


def run_evaluate(
    samples_dir,
    latents,
    moments_npz,
    out_tsv,
    out_json,
    *,
    min_confidence: float,
    fid_weights: str | None,
    k: int = 3,
    pca_components: int = 64,
    onet_crop=realism.FACE_CROP,
    seed: int = 0,
) -> list[dict]:
    """Score every sampler against the real reference images: MTCNN face rate and confidence;
    Fréchet distance, precision and recall in MTCNN-ONet and pixel-PCA feature spaces; diversity;
    the fraction inside the data's 3-sigma ellipsoid; distance to the nearest training latent
    (relative to holdout latents' own); FID where local Inception weights are configured."""
    samples_dir = Path(samples_dir)
    mom = stats.Moments.load(moments_npz)
    lat = zarr.open_group(latents, mode="r")
    train_idx = np.flatnonzero(lat["split"][:] == 0)
    z_train = stats.take_rows(lat["z"], train_idx)
    limit = smp.shell_d2(3.0, len(mom.mean))
    w = stats.whitener(mom)
    det = detect.FaceDetector(min_confidence)
    index = json.loads((samples_dir / "index.json").read_text())
    names = index["references"] + index["samplers"]
    reference = np.load(samples_dir / REFERENCE_SET / "images.npy")
    onet = realism.OnetFeatures(onet_crop)
    pca_fit = np.load(samples_dir / PCA_FIT_SET / "images.npy")
    pixels = realism.PixelPCA(pca_components, seed).fit(pca_fit)
    features = {"onet": onet, "pixels": pixels}
    real_feats = {space: f(reference) for space, f in features.items()}
    real_spread = realism.mean_pairwise_distance(reference)
    log.info(
        "realism reference: %d real holdout images; %d pixel-PCA components fitted on training images",
        len(reference),
        pixels.pca.n_components_,
    )
    ref_nn = None
    fid_real = None
    if fid_weights:
        fid_real = detect.inception_features(reference, fid_weights)
    else:
        log.info(
            "FID skipped: set evaluate.fid_inception_weights to a local InceptionV3 weights file to compute it"
        )
    rows = []
    for name in names:
        d = samples_dir / name
        meta = json.loads((d / "meta.json").read_text())
        z, imgs = np.load(d / "z.npy").astype(np.float64), np.load(d / "images.npy")
        rate, conf, _ = det.face_rate(imgs)
        y = (z - mom.mean) @ w.T
        inside = float((np.einsum("ij,ij->i", y, y) <= limit).mean())
        nn = nearest_distances(z, z_train)
        if name == "holdout_real":
            ref_nn = float(np.median(nn))
        scores = realism.realism_scores(
            real_feats, {space: f(imgs) for space, f in features.items()}, k
        )
        fid = (
            realism.frechet_distance(fid_real, detect.inception_features(imgs, fid_weights))
            if fid_weights
            else float("nan")
        )
        row = {
            "sampler": meta["sampler"],
            "setting": meta["setting"] or "-",
            "n": len(z),
            "face_rate": rate,
            "mean_confidence": conf,
            **scores,
            "diversity": realism.mean_pairwise_distance(imgs) / real_spread,
            "n_reference": len(reference),
            "inside_3sigma": inside,
            "nn_distance_median": float(np.median(nn)),
            "nn_distance_ratio": float(np.median(nn)) / ref_nn if ref_nn else float("nan"),
            "fid": fid,
        }
        log.info("%s: %s", name, row)
        rows.append(row)
    write_tsv(out_tsv, {k: [r[k] for r in rows] for k in rows[0]})
    write_json(
        out_json,
        {
            "rows": rows,
            "face_min_confidence": min_confidence,
            "ranking": rank_first(rows),
            "realism": {
                "reference_images": len(reference),
                "k": k,
                "pca_components": int(pixels.pca.n_components_),
                "onet_crop": list(onet_crop),
                "reference": "real holdout images disjoint from the holdout_real row's; holdout_real's "
                "scores are therefore the real-vs-real floor for this many samples",
                "pixel_pca_fitted_on": f"{len(pca_fit)} training images",
            },
            "fid": (
                "computed" if fid_weights else "skipped: no local InceptionV3 weights configured"
            ),
            "nn_reference": "median distance of holdout latents to their nearest training latent",
        },
    )
    return rows


def rank_first(rows: list[dict]) -> dict:
    """The sampler ranking first on each metric (references excluded); diversity: closest to 1."""
    cands = [r for r in rows if r["sampler"] not in REFERENCES]
    best = {}
    for key, higher in {"face_rate": True, **REALISM}.items():
        vals = np.array([r[key] for r in cands], float)
        if not len(cands) or np.isnan(vals).all():
            continue
        score = (
            vals
            if higher
            else (-vals if higher is False else -np.abs(np.log(np.maximum(vals, 1e-12))))
        )
        r = cands[int(np.nanargmax(score))]
        best[key] = {"sampler": r["sampler"], "setting": r["setting"], "value": r[key]}
    return best
