"""The demo DAG, run once per session (conftest.demo): one test per stage, its figures and the HTML report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import zarr

from caelatent.scoring.columns import WITH_INTERVALS

from conftest import demo_or_default, load, snakemake


def demo_config() -> dict:
    return load("demo.yaml")


@pytest.mark.slow
def test_demo_prepare(demo):
    wf, demo = demo, demo_config()
    d = wf / "results/data/synthetic_64"
    m = json.loads((d / "manifest.json").read_text())
    n = demo["data"]["synthetic"]["n_images"]
    assert m["counts"]["written"] == n and m["split"]["seed"] == demo["seed"]
    assert m["split"]["train"] == round(demo["data"]["split"]["train_size"] * n)
    g = zarr.open_group(d / "images.zarr", mode="r")
    assert g["images"].shape == (n, 64, 64, 3)
    assert (wf / "logs/prepare/synthetic_64.log").read_text().count("rendered") == 1


@pytest.mark.slow
def test_demo_train_and_encode(demo):
    wf, demo = demo, demo_config()
    n = demo["data"]["synthetic"]["n_images"]
    g = zarr.open_group(wf / "results/data/synthetic_64/images.zarr", mode="r")
    exp = wf / "results" / demo["run"][0]
    lat = zarr.open_group(exp / "latents.zarr", mode="r")
    assert lat["z"].shape == (n, demo["model"]["z_dim"]) and (lat["ids"][:] == g["ids"][:]).all()
    for fig in ("train_loss_curve.png", "holdout_reconstructions.png"):
        assert (exp / "figures" / fig).stat().st_size > 10_000
    history = (exp / "model/history.tsv").read_text().splitlines()
    assert len(history) == demo["train"]["epochs"] + 1
    # reconstructions resemble their inputs: far closer than the mean training image is
    from caelatent.model import backend

    backend.use("tensorflow")
    from caelatent.files.networks import load_model

    hold = np.flatnonzero(g["split"][:] == 1)[:200]
    x = (
        g["images"]
        .get_orthogonal_selection((hold, slice(None), slice(None), slice(None)))
        .astype("float32")
        / 255
    )
    rec = load_model(exp / "model/decoder.keras").predict(
        load_model(exp / "model/encoder.keras").predict(x, verbose=0), verbose=0
    )
    mean_face = g["images"][:1000].astype("float32").mean(axis=0) / 255
    assert ((rec - x) ** 2).mean() < 0.5 * ((mean_face - x) ** 2).mean()


@pytest.mark.slow
def test_demo_stats(demo):
    wf, demo = demo, demo_config()
    exp = wf / "results" / demo["run"][0]
    for name in (
        "components.tsv",
        "dominant_components.tsv",
        "radius.json",
        "correlated_pairs.tsv",
        "pca.json",
        "mnd_fit.json",
        "mnd_normality_tests.tsv",
        "origin.json",
    ):
        assert (exp / "stats" / name).stat().st_size > 0, name
    # every table rule's plot rule drew its figures
    for fig in (
        "radius_distributions.png",
        "origin_mahalanobis_position.png",
        "mnd_contours_vs_ellipses.png",
        "mnd_mahalanobis_qq_chi2.png",
        "pca_planes.png",
        "components_histograms_grid.png",
    ):
        assert (exp / "figures" / fig).read_bytes()[:4] == b"\x89PNG", fig


@pytest.mark.slow
def test_demo_generate_and_evaluate(demo):
    wf, demo = demo, demo_config()
    exp = wf / "results" / demo["run"][0]
    # a grid per sampler and setting, and the summary with a row for each
    index = json.loads((exp / "samples/index.json").read_text())
    rows = [line.split("\t") for line in (exp / "stats/summary.tsv").read_text().splitlines()]
    header, rows = rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
    assert header[:4] == ["sampler", "setting", "n", "face_rate"] and len(rows) == 2 + len(
        index["samplers"]
    )
    assert [r["sampler"] for r in rows[:2]] == ["holdout_real", "holdout_reconstruction"]
    assert {r["sampler"] for r in rows} >= {
        "uniform_box",
        "intervals",
        "origin_to_centre",
        "plane_path",
        "mnd",
        "independent",
        "pca_ellipsoid",
        "gmm",
    }
    for r in rows:
        assert 0 <= float(r["face_rate"]) <= 1 and 0 <= float(r["inside_3sigma"]) <= 1
        assert int(r["n"]) == demo["generate"]["n_samples"]
    for sid in index["references"] + index["samplers"]:
        assert (exp / "figures/samples" / f"samples_{sid}.png").stat().st_size > 5000
    assert (exp / "figures/sampler_summary.png").exists()
    details = json.loads((exp / "stats/summary.json").read_text())
    assert details["fid"] == "skipped: evaluate.fid_inception_weights is not set"
    # FID is optional: skipped, and said so; its column and its interval's are empty
    assert all(r[c] == "nan" for r in rows for c in ("fid", "fid_lo", "fid_hi"))
    # realism and diversity against real holdout images that are not the holdout_real row's
    gen = demo_or_default(demo, "generate")
    n_ref = gen["n_reference"] or gen["n_samples"]  # null: as many as n_samples
    assert {int(r["n_reference"]) for r in rows} == {n_ref}
    assert details["realism"]["reference_images"] == n_ref
    # the pixel PCA is fitted on training images, none of them compared
    fit_rows, ref_rows = (
        np.load(exp / "samples" / d / "rows.npy") for d in ("pca_fit", "reference")
    )
    split = zarr.open_group(wf / "results/data/synthetic_64/images.zarr")["split"][:]
    assert len(fit_rows) == n_ref and (split[fit_rows] == 0).all() and (split[ref_rows] == 1).all()
    by = {
        (r["sampler"], r["setting"]): {
            k: float(v)
            for k, v in r.items()
            if k not in ("sampler", "setting", "gmm_components", "gmm_converged")
        }
        for r in rows
    }
    real, noise = by[("holdout_real", "-")], by[("uniform_box", "b4")]
    for space in ("onet", "pixels"):
        assert (
            real[f"fd_{space}"] < noise[f"fd_{space}"]
            and real[f"recall_{space}"] > noise[f"recall_{space}"]
        )
    assert 0.8 < real["diversity"] < 1.2
    # every score carries its interval, around the score
    for r in by.values():
        for key in WITH_INTERVALS:
            if not np.isnan(r[key]):
                assert r[f"{key}_lo"] <= r[key] <= r[f"{key}_hi"], key
    # two real sets of one law: KID's interval holds 0; noise is farther than the reconstructions
    for space in ("onet", "pixels"):
        assert real[f"kid_{space}_lo"] <= 0 <= real[f"kid_{space}_hi"]
        assert noise[f"gap_fd_{space}_lo"] > 0
    assert set(details["ranking"]) >= {
        "face_rate",
        "fd_onet",
        "fd_pixels",
        "precision_onet",
        "recall_onet",
        "precision_pixels",
        "recall_pixels",
        "diversity",
    }
    assert all(
        v["sampler"] not in ("holdout_real", "holdout_reconstruction")
        for v in details["ranking"].values()
    )


@pytest.mark.slow
def test_demo_attributes(demo):
    wf, demo = demo, demo_config()
    exp = wf / "results" / demo["run"][0]
    n = demo["data"]["synthetic"]["n_images"]
    # every synthetic attribute analysed, none excluded; the CAE encodes hair colour linearly
    from caelatent.files.records import read_tsv

    att = read_tsv(exp / "stats/attributes.tsv")
    summary = json.loads((exp / "stats/attributes.json").read_text())
    assert summary["excluded_no_attribute_row"] == 0 and summary["with_attributes"] == n
    assert len(att["attribute"]) == summary["analysed"] == 14 - len(summary["skipped"])
    auc = dict(zip(att["attribute"], att["holdout_auc_fisher"]))
    assert auc["Black_Hair"] > 0.9 and auc["Blond_Hair"] > 0.9, auc
    arith = demo_or_default(demo, "attributes", "arithmetic")
    grids = sorted(p.stem for p in (exp / "figures/arithmetic").glob("*.png"))
    assert grids == sorted(arith["attributes"] + ["morph"])
    t = read_tsv(exp / "stats/arithmetic.tsv")
    assert (
        len(t["grid"])
        == len(arith["attributes"]) * arith["faces"] * arith["steps"]
        + arith["morph_pairs"] * arith["morph_steps"]
    )
    for fig in (
        "attributes_pc_projection.png",
        "attributes_mahalanobis.png",
        "attributes_pc_histograms.png",
        "innermost_maps.png",
        "innermost_maps_ascent.png",
    ):
        assert (exp / "figures" / fig).stat().st_size > 10_000, fig
    maps = read_tsv(exp / "stats/innermost_maps.tsv")
    assert len(maps["map"]) == demo["model"]["filters"][-1] and (maps["rise"] > 0).mean() > 0.9


@pytest.mark.slow
def test_demo_provenance(demo):
    wf, demo = demo, demo_config()
    prov = json.loads((wf / "results" / demo["run"][0] / "provenance.json").read_text())
    from caelatent.files import provenance

    assert prov["version"] and prov["config"]["model"]["z_dim"] == demo["model"]["z_dim"]
    assert prov["library_path"] == str(wf / "src" / "caelatent")
    assert prov["library_sha256_16"] == provenance.library_hash(wf / "src" / "caelatent")
    assert prov["git"]["commit"] is None  # the workflow copy is no git checkout
    assert "results/demo/latents.zarr" in prov["outputs"]
    assert prov["host"]["cpus"] == os.cpu_count() and prov["host"]["machine"]


@pytest.mark.slow
def test_demo_second_run_has_nothing_to_do(demo):
    assert (
        "Nothing to be done"
        in snakemake(demo, "--cores", "2", "--configfile", "config/demo.yaml").stderr
    )


def read_tsv_rows(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


@pytest.mark.slow
def test_no_demo_figure_has_a_title_or_colour_bar_over_its_axes(demo):
    """files.figures.save_figure logs every overlap it finds in a figure (tests/test_io.py shows it finds them);
    the demo's plot rules logged none."""
    logs = sorted((demo / "logs").rglob("*plots.log")) + [demo / "logs/comparison_plots.log"]
    assert len(logs) >= 12
    found = [line for f in logs for line in f.read_text().splitlines() if " overlaps " in line]
    assert not found, found


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_dom(url: str, profile: Path) -> str:
    proc = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
@pytest.mark.slow
def test_report_renders_every_figure_in_chromium(demo, tmp_path):
    wf = demo
    snakemake(wf, "--configfile", "config/demo.yaml", "--report", "report.zip")
    with zipfile.ZipFile(wf / "report.zip") as z:
        z.extractall(tmp_path)
    html = next(tmp_path.rglob("report.html"))
    pngs = sorted(p for p in html.parent.rglob("*.png"))
    figures = list((wf / "results/demo/figures").rglob("*.png")) + list(
        (wf / "results/comparison").glob("*.png")
    )
    assert len(pngs) == len(figures) > 25
    # the report application itself loads: its menu lists every stage, the front page has our text
    dom = chromium_dom(html.as_uri(), tmp_path / "profile1")
    for category in (
        "Tables",
        "Training",
        "Latent statistics",
        "Normality",
        "Generation",
        "Attributes",
        "Comparison",
    ):
        assert category in dom
    assert "What a plain convolutional autoencoder does with its latent space" in dom
    assert "System Message" not in dom  # no broken reStructuredText
    assert (
        "Holdout images (never trained on) above their reconstructions" in html.read_text()
    )  # a caption
    # captions show the configured values (Jinja over the rule's params and wildcards)
    top = demo_or_default(load("demo.yaml"), "stats", "correlation_scatter")["top_pairs"]
    assert f"The {top} most correlated component pairs of experiment demo" in html.read_text()
    assert "principal planes PC1-PC2, PC3-PC4, PC5-PC6" in html.read_text()
    # the summary tables are pages of the report, the sampler summary with a row per set
    pages = {p.name for p in html.parent.rglob("*.html")}
    assert {"samplers.html", "normality_tests.html", "experiments.html"} <= pages, pages
    by_title = {
        re.search(r"<title>(.*?)</title>", t).group(1): t
        for t in (p.read_text() for p in html.parent.rglob("samplers.html"))
    }
    samplers = by_title["experiment demo: samplers"]
    n_sets = len((wf / "results/demo/stats/summary.tsv").read_text().splitlines()) - 1
    assert samplers.count("<tr>") == n_sets + 1 and "<td>mnd</td>" in samplers
    # and the comparison's sampler table, one row per experiment (one here) and sampler
    compared = by_title["comparison of experiments: samplers"]
    assert compared.count("<tr>") == n_sets + 1 and "<td>mnd k3</td>" in compared
    # every figure in the report decodes and renders in the browser
    page = html.parent / "check_figures.html"
    imgs = "".join(f'<img src="{p.relative_to(html.parent).as_posix()}">' for p in pngs)
    page.write_text(f"""<html><body>{imgs}<div id="result">pending</div><script>
        window.onload = () => {{
            const all = [...document.images];
            const ok = all.filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100);
            document.getElementById('result').textContent = 'rendered ' + ok.length + ' of ' + all.length;
        }};</script></body></html>""")
    dom = chromium_dom(page.as_uri(), tmp_path / "profile2")
    assert f"rendered {len(pngs)} of {len(pngs)}" in dom


@pytest.mark.slow
def test_the_demo_shows_the_contrast_between_samplers_and_arithmetic_that_works(demo):
    """What README says the demo shows. MTCNN finds faces in the real synthetic images but not in
    the demo CAE's blurred decodings, so the contrast is read in the pixel-PCA Fréchet distance:
    vectors from inside the cloud decode to images as close to the real ones as reconstructions
    are, uniform boxes to images several times farther. And adding an attribute direction changes
    the attribute, as a classifier of real images' pixels judges the decoded images."""
    rows = {
        (r["sampler"], r["setting"]): r
        for r in read_tsv_rows(demo / "results/demo/stats/summary.tsv")
    }
    fd = {k: float(r["fd_pixels"]) for k, r in rows.items()}
    rec = fd[("holdout_reconstruction", "-")]
    assert float(rows[("holdout_real", "-")]["face_rate"]) >= 0.5
    for inside in [k for k in fd if k[0] in ("mnd", "gmm")]:
        assert fd[inside] <= 1.5 * rec, (inside, fd[inside], rec)
    boxes = [k for k in fd if k[0] == "uniform_box"]
    assert boxes and all(fd[k] >= 3 * rec for k in boxes), {k: fd[k] for k in boxes}
    grids = json.loads((demo / "results/demo/stats/arithmetic.json").read_text())["grids"]
    rise = {
        name: g["attribute_probability"][-1] - g["attribute_probability"][0]
        for name, g in grids.items()
        if name != "morph"
    }
    assert rise["Blond_Hair"] >= 0.6 and sum(r >= 0.3 for r in rise.values()) >= 4, rise
