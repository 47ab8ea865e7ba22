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
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import zarr  # noqa: E402

from . import realism  # noqa: E402
from . import samplers as smp  # noqa: E402
from . import stats  # noqa: E402
from .analyses import read_tsv, write_json, write_tsv  # noqa: E402
from .store import atomic_path  # noqa: E402

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


def grid_figure(images: np.ndarray, title: str, path, rows: int, cols: int, labels=None) -> None:
    fig, axes = plt.subplots(rows, cols, figsize=(1.45 * cols, 1.6 * rows + 0.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k])
            if labels is not None:
                ax.set_title(labels[k], fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def _grid_pick(n: int, k: int, ordered: bool) -> np.ndarray:
    return (
        np.unique(np.linspace(0, n - 1, k).round().astype(int)) if ordered else np.arange(min(k, n))
    )


def run_generate(
    images_zarr,
    latents,
    decoder_path,
    dominant_tsv,
    out_dir,
    fig_dir,
    *,
    spec: dict,
    n: int,
    grid: tuple[int, int],
    seed: int,
    n_reference: int = 1000,
    batch_size: int = 256,
) -> list[str]:
    """Fit every sampler on the training latents, draw ``n`` vectors each, decode, draw grids."""
    from .train import load_model

    decoder = load_model(decoder_path)
    lat = zarr.open_group(latents, mode="r")
    split = lat["split"][:]
    train_idx, hold_idx = np.flatnonzero(split == 0), np.flatnonzero(split == 1)
    z_train = stats.take_rows(lat["z"], train_idx)
    dominant = [int(c) for c in read_tsv(dominant_tsv)["component"]]
    rows, cols = grid
    out_dir, fig_dir = Path(out_dir), Path(fig_dir)
    with atomic_path(out_dir) as tmp_out, atomic_path(fig_dir) as tmp_fig:
        tmp_out.mkdir(parents=True)
        tmp_fig.mkdir(parents=True)
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
            _save(tmp_out / name, z, imgs, {"sampler": name, "setting": "", "n": len(z)})
            grid_figure(
                imgs[: rows * cols],
                name.replace("_", " "),
                tmp_fig / f"samples_{name}.png",
                rows,
                cols,
            )
        ids = []
        for k, s in enumerate(smp.build_samplers(spec, dominant, seed)):
            sid = smp.sampler_id(s)
            log.info("sampler %s: fitting on %d training latents", sid, len(z_train))
            s.fit(z_train)
            z = s.sample(n, np.random.default_rng([seed, k]))
            imgs = decode(decoder, z, batch_size)
            _save(tmp_out / sid, z, imgs, {"sampler": s.name, "setting": s.setting, "n": len(z)})
            sel = _grid_pick(len(z), rows * cols, isinstance(s, ORDERED))
            labels = (
                [f"t={t:.2f}" for t in np.linspace(0, 1, len(z))[sel]]
                if isinstance(s, smp.OriginToCentre)
                else None
            )
            if isinstance(s, smp.PlanePath):
                labels = [f"{v:+.1f}σ" for v in np.linspace(-s.extent, s.extent, len(z))[sel]]
            title = f"{s.name} {s.setting}".strip() + f": {len(sel)} decoded latent vectors"
            grid_figure(imgs[sel], title, tmp_fig / f"samples_{sid}.png", rows, cols, labels)
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


class FaceDetector:
    """MTCNN (the ``mtcnn`` package ships its weights; it runs on TensorFlow)."""

    def __init__(self, min_confidence: float = 0.9):
        from mtcnn import MTCNN

        self.detector = MTCNN(device="CPU:0")
        self.min_confidence = min_confidence

    def confidences(self, images: np.ndarray, batch: int = 64) -> np.ndarray:
        """Highest face confidence per image (0 where MTCNN finds none)."""
        out = np.zeros(len(images))
        for s in range(0, len(images), batch):
            res = self.detector.detect_faces(list(np.asarray(images[s : s + batch], np.uint8)))
            for k, faces in enumerate(res):
                out[s + k] = max((float(f["confidence"]) for f in faces), default=0.0)
        return out

    def face_rate(self, images: np.ndarray) -> tuple[float, float, np.ndarray]:
        """(fraction with a face, mean confidence of the detected faces, per-image confidences)."""
        c = self.confidences(images)
        found = c >= self.min_confidence
        return float(found.mean()), float(c[found].mean()) if found.any() else 0.0, c


def nearest_distances(z: np.ndarray, z_ref, exclude: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distance of each row of ``z`` to its nearest row of ``z_ref`` (streamed)."""
    z = np.asarray(z, np.float64)
    best = np.full(len(z), np.inf)
    zz = (z * z).sum(axis=1)[:, None]
    for _, b in stats.blocks(z_ref):
        d2 = zz + (b * b).sum(axis=1)[None, :] - 2 * z @ b.T
        best = np.minimum(best, d2.min(axis=1))
    return np.sqrt(np.maximum(best, 0))


def inception_features(images: np.ndarray, weights: str) -> np.ndarray:
    """InceptionV3 pool features from local weights (no download)."""
    import keras

    if not os.path.exists(weights):
        raise FileNotFoundError(f"evaluate.fid_inception_weights: {weights} does not exist")
    model = keras.applications.InceptionV3(
        include_top=False, pooling="avg", weights=weights, input_shape=(299, 299, 3)
    )
    x = keras.ops.image.resize(np.asarray(images, np.float32), (299, 299))
    return np.asarray(model.predict(keras.applications.inception_v3.preprocess_input(x), verbose=0))


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
    fig,
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
    det = FaceDetector(min_confidence)
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
        fid_real = inception_features(reference, fid_weights)
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
            realism.frechet_distance(fid_real, inception_features(imgs, fid_weights))
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
    _summary_chart(rows, fig)
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


def _summary_chart(rows: list[dict], path) -> None:
    labels = [
        f"{r['sampler']} {r['setting']}" if r["setting"] != "-" else r["sampler"] for r in rows
    ]
    x = np.arange(len(rows))
    colors = ["tab:gray" if r["sampler"] in REFERENCES else "tab:blue" for r in rows]
    panels = [
        ("face_rate", "MTCNN face rate", (0, 1.05)),
        (("precision_onet", "recall_onet"), "precision / recall\n(MTCNN-ONet features)", (0, 1.05)),
        (("precision_pixels", "recall_pixels"), "precision / recall\n(pixel PCA)", (0, 1.05)),
        ("fd_onet", "Fréchet distance\n(MTCNN-ONet features, log)", None),
        ("fd_pixels", "Fréchet distance\n(pixel PCA, log)", None),
        ("diversity", "diversity\n(pairwise distance / real's)", None),
        ("inside_3sigma", "fraction inside\nthe 3σ ellipsoid", (0, 1.05)),
        ("nn_distance_ratio", "nearest-training-latent\ndistance / holdout's", None),
    ]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(max(8, 0.55 * len(rows)), 2.1 * len(panels) + 1.5), sharex=True
    )
    for ax, (key, title, ylim) in zip(axes, panels):
        if isinstance(key, tuple):
            for off, k, hatch in ((-0.2, key[0], None), (0.2, key[1], "//")):
                ax.bar(
                    x + off,
                    [r[k] for r in rows],
                    width=0.4,
                    color=colors,
                    hatch=hatch,
                    edgecolor="white",
                    label=k.split("_")[0],
                )
            ax.legend(fontsize=7, loc="upper right")
        else:
            ax.bar(x, [r[key] for r in rows], color=colors)
        if key in ("fd_onet", "fd_pixels"):
            ax.set_yscale("log")
        if key == "diversity":
            ax.axhline(1.0, color="k", lw=0.8, ls="--")
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_ylabel(title, fontsize=8)
    axes[-1].set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
    fig.suptitle(
        f"Samplers against the references (grey): {rows[0]['n']} images each,\n"
        f"compared with {rows[0]['n_reference']} other real holdout images",
        fontsize=10,
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
