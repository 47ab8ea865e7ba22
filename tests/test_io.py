"""The workflow's file layer: tables, and their report pages."""

import numpy as np
import pytest

from caelatent.files import records
from caelatent.files.figures import save_figure
from caelatent.stages import report


def test_tsv_round_trip_keeps_numbers_and_text(tmp_path):
    cols = {"sampler": ["mnd", "uniform box"], "face_rate": [0.5, 1 / 3], "n": [10, 20]}
    records.write_tsv(tmp_path / "t.tsv", cols)
    back = records.read_tsv(tmp_path / "t.tsv")
    assert list(back["sampler"]) == cols["sampler"] and list(back["n"]) == [10, 20]
    assert back["face_rate"][1] == pytest.approx(1 / 3, rel=1e-5)
    with pytest.raises(ValueError, match=r"t2.tsv: column 'n' has 1 rows"):
        records.write_tsv(tmp_path / "t2.tsv", {"a": [1, 2], "n": [1]})
    assert not (tmp_path / "t2.tsv").exists()  # nothing half-written


def test_tables_become_report_pages_with_every_row_escaped(tmp_path):
    records.write_tsv(
        tmp_path / "a.tsv", {"sampler": ["<b>x</b>", "gmm"], "v": np.array([1.5, 2.0])}
    )
    records.write_tsv(tmp_path / "b.tsv", {"k": list(range(30))})
    names = report.tables(
        html=tmp_path / "tables",
        title="experiment demo",
        samplers=tmp_path / "a.tsv",
        big=tmp_path / "b.tsv",
    )
    assert names == ["big", "samplers"]
    page = (tmp_path / "tables" / "samplers.html").read_text()
    assert "experiment demo: samplers" in page and "2 rows" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x" not in page  # text is shown, never markup
    assert page.count("<tr>") == 3 and "<td>1.5</td>" in page
    assert (tmp_path / "tables" / "big.html").read_text().count("<tr>") == 31
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(ValueError, match="empty.tsv: empty table"):
        report.tables(html=tmp_path / "t2", title="x", e=tmp_path / "empty.tsv")
    assert not (tmp_path / "t2").exists()


def test_overlap_check_finds_a_title_on_the_axes_and_passes_a_laid_out_figure(tmp_path, caplog):
    from matplotlib.figure import Figure

    from caelatent.files.figures import overlaps
    from caelatent.plots import subplots

    fig, ax = subplots(1, 1)  # the project's layout: title, image and colour bar side by side
    im = ax.imshow(np.random.default_rng(0).random((20, 20)))
    fig.colorbar(im, ax=ax, label="Pearson r")
    fig.suptitle("Pearson correlation matrix of the latent components")
    ax.set_title("all encoded images")
    save_figure(fig, tmp_path / "ok.png")
    assert overlaps(fig) == [] and "overlaps" not in caplog.text
    bad = Figure(figsize=(4, 3))  # no layout engine: the title is drawn over the image
    bad.add_subplot().imshow(np.zeros((5, 5)))
    bad.suptitle("a title", y=0.5)
    save_figure(bad, tmp_path / "bad.png")
    assert (
        tmp_path / "bad.png"
    ).exists() and "bad.png: title 'a title' overlaps axes" in caplog.text
    squeezed = Figure(figsize=(4, 3))  # two axes on top of each other
    squeezed.add_axes([0.1, 0.1, 0.6, 0.6])
    squeezed.add_axes([0.3, 0.3, 0.6, 0.6])
    assert len(overlaps(squeezed)) == 1
