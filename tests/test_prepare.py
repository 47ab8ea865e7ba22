import io
import tarfile
import os
import json
import zipfile

import numpy as np
import pytest
import yaml
import zarr
from PIL import Image

from caelatent.files import celeba
from caelatent.data.images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, decode_crop_resize
from caelatent.data.prepare import Split
from caelatent.stages.data import prepare_celeba, prepare_synthetic
from conftest import (
    ROOT,
    ATTR_FILE,
    HALFRES_TAR,
    IDENTITY_FILE,
    ORIGINALS_TAR,
    make_tar,
    read_jpegs,
)


def load(out_dir):
    g = zarr.open_group(out_dir / "images.zarr", mode="r")
    manifest = json.loads((out_dir / "manifest.json").read_text())
    rows = (out_dir / "attributes.tsv").read_text().splitlines()
    return g, manifest, rows


def accounted(counts):
    return counts["written"] + sum(counts["skipped"].values()) + counts["beyond_max_images"]


@pytest.mark.parametrize("tar, size", [(ORIGINALS_TAR, 96), (HALFRES_TAR, 64)])
def test_prepare_each_shared_tar(sample, tmp_path, tar, size):
    manifest = prepare_celeba(
        tar,
        tmp_path,
        size=size,
        attributes=ATTR_FILE,
        identities=IDENTITY_FILE,
        split=Split(0.9, seed=1),
        workers=2,
        chunk=128,
    )
    g, m, rows = load(tmp_path)
    n = 558 if tar == ORIGINALS_TAR else 10000
    assert m == manifest
    assert g["images"].shape == (n, size, size, 3) and g["images"].dtype == np.uint8
    assert g["images"].chunks == (128, size, size, 3)
    assert g["ids"][:].tolist() == list(range(1, n + 1))
    assert (
        m["counts"]["inputs"] == n and m["counts"]["written"] == n and accounted(m["counts"]) == n
    )
    table = celeba.read_attributes(ATTR_FILE)
    expect, _ = table.lookup(np.arange(1, n + 1))
    assert (g["attributes"][:] == expect).all() and g["attributes"].attrs["names"] == table.names
    assert g["identity"][:3].tolist() == [2880, 2937, 8692]
    split = g["split"][:]
    assert m["split"] == {
        "train": int(round(0.9 * n)),
        "holdout": n - int(round(0.9 * n)),
        "train_size": 0.9,
        "shuffle": True,
        "seed": 1,
        "partitions": None,
    }
    assert (split == 0).sum() == m["split"]["train"]
    assert m["attribute_file"]["declared_count"] == 202599 and m["attribute_file"]["rows"] == 20000
    header = rows[0].split("\t")
    assert (
        header[:5] == ["index", "image_id", "split", "has_attributes", "identity"]
        and len(rows) == n + 1
    )
    first = dict(zip(header, rows[1].split("\t")))
    assert first["image_id"] == "000001" and first["Male"] == "-1" and first["identity"] == "2880"
    # not a blank or constant image: real faces were decoded
    assert g["images"][:16].std() > 20


def test_crop_box_is_scaled_for_half_resolution_frames(sample):
    full = read_jpegs(ORIGINALS_TAR, 1)["000001.jpg"]
    half = read_jpegs(HALFRES_TAR, 1)["000001.jpg"]
    a, _ = decode_crop_resize(full, 64, (0, 20, 178, 198))
    b, _ = decode_crop_resize(half, 64, (0, 20, 178, 198))
    # the same face at the same framing: close, though re-encoded at half resolution
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 12
    c, _ = decode_crop_resize(full, 64, (40, 60, 138, 158))  # a tighter box frames differently
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 20


@pytest.fixture
def bad_inputs(sample, tmp_path):
    """A tar with good images and one of each kind of bad input."""
    good = read_jpegs(ORIGINALS_TAR, 6)
    names = sorted(good)
    members = {f"img_align_celeba/{n}": good[n] for n in names[:4]}
    rgb = Image.open(io.BytesIO(good[names[4]]))
    buf = io.BytesIO()
    rgb.convert("L").save(buf, "JPEG")
    members["img_align_celeba/000005.jpg"] = buf.getvalue()
    buf = io.BytesIO()
    rgb.convert("CMYK").save(buf, "JPEG")
    members["img_align_celeba/000006.jpg"] = buf.getvalue()
    members["img_align_celeba/000007.jpg"] = good[names[0]][: len(good[names[0]]) // 2]  # truncated
    members["img_align_celeba/000008.jpg"] = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8  # corrupt
    members["img_align_celeba/000009.jpg"] = b"this is not an image\n"
    members["img_align_celeba/README.txt"] = b"notes\n"
    members["img_align_celeba/020001.jpg"] = good[names[1]]  # beyond the attribute rows
    members["other_copy/000002.jpg"] = good[names[2]]  # duplicate id
    return make_tar(tmp_path / "bad.tar", members)


def test_bad_inputs_are_skipped_or_converted_and_counted(bad_inputs, tmp_path, caplog):
    out = tmp_path / "out"
    m = prepare_celeba(
        bad_inputs, out, size=64, attributes=ATTR_FILE, split=Split(0.5), workers=2, chunk=4
    )
    g, _, rows = load(out)
    c = m["counts"]
    assert c["inputs"] == 12 and accounted(c) == 12
    assert c["skipped"] == {"corrupt": 2, "not_image": 2, "duplicate_id": 1}
    assert c["converted_to_rgb"] == {"L": 1, "CMYK": 1}
    assert c["missing_attributes"] == 1
    assert g["ids"][:].tolist() == [1, 2, 3, 4, 5, 6, 20001]
    assert g["images"].shape == (7, 64, 64, 3)
    skipped = {(s["name"], s["reason"]) for s in m["skipped_items"]}
    assert skipped == {
        ("img_align_celeba/000007.jpg", "corrupt"),
        ("img_align_celeba/000008.jpg", "corrupt"),
        ("img_align_celeba/000009.jpg", "not_image"),
        ("img_align_celeba/README.txt", "not_image"),
        ("other_copy/000002.jpg", "duplicate_id"),
    }
    for name, reason in skipped:
        assert f"skipped {name} ({reason})" in caplog.text
    # the compacted array keeps each image with its own id: 000005 (greyscale) is grey, not shifted
    img5 = g["images"][4].astype(int)
    assert np.abs(img5[..., 0] - img5[..., 1]).max() <= 2
    assert (g["attributes"][6] == 0).all() and rows[7].split("\t")[3] == "0"
    # CelebA's format has no notation for a missing row: the image without one is left out there
    table = celeba.read_attributes(out / "list_attr.txt")
    assert table.ids.tolist() == [1, 2, 3, 4, 5, 6] and table.declared_count == 6
    assert not list(tmp_path.glob("**/*.partial"))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A valid 8x8 JPEG whose header (SOF0) claims ``width`` x ``height``: what a decoder would
    allocate for, without the test allocating it."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 60, 40)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@pytest.fixture
def messy_folder(sample, tmp_path):
    """A folder with good images and what a user's folder may also hold: a dangling symbolic link,
    a 1x1 JPEG, a JPEG claiming 12000x12000, a directory named like an image, a link to a folder,
    a FIFO."""
    good = read_jpegs(ORIGINALS_TAR, 4)
    root = tmp_path / "messy"
    (root / "sub").mkdir(parents=True)
    for k, name in enumerate(sorted(good)):
        ((root / "sub") if k == 3 else root).joinpath(name).write_bytes(good[name])
    (root / "000111.jpg").symlink_to(root / "gone.jpg")
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 150, 120)).save(buf, "JPEG")
    (root / "000112.jpg").write_bytes(buf.getvalue())
    (root / "000113.jpg").write_bytes(jpeg_claiming(12000, 12000))
    (root / "000102.jpg").mkdir()
    (root / "000102.jpg" / "000114.jpg").write_bytes(good[sorted(good)[0]])  # not walked
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)
    os.mkfifo(root / "000115.jpg")
    return root


def test_every_entry_of_a_messy_folder_is_written_or_skipped_with_a_reason(
    messy_folder, tmp_path, caplog
):
    m = prepare_celeba(
        messy_folder, tmp_path / "out", size=64, split=Split(0.5), workers=2, chunk=2
    )
    c = m["counts"]
    reasons = {s["name"]: s["reason"] for s in m["skipped_items"]}
    assert reasons == {
        "000111.jpg": "unreadable",
        "000112.jpg": "too_small",
        "000113.jpg": "too_large",
        "000102.jpg": "not_a_file",
        "linked": "not_image",  # a link to a folder is an entry, not walked; no image name
        "000115.jpg": "not_a_file",
    }, m["skipped_items"]
    assert c["written"] == 4 and c["inputs"] == 10 and accounted(c) == 10, c
    details = {s["name"]: s["detail"] for s in m["skipped_items"]}
    assert "12000x12000" in details["000113.jpg"] and "max_pixels" in details["000113.jpg"]
    assert "1x1" in details["000112.jpg"] and "min_side=32" in details["000112.jpg"]
    assert "gone.jpg" not in details["000111.jpg"] and "000111.jpg" in details["000111.jpg"]
    assert "directory" in details["000102.jpg"]
    assert m["limits"] == {"min_side": 32, "max_pixels": 40_000_000}
    assert "DecompressionBomb" not in caplog.text
    for name, reason in reasons.items():
        assert f"skipped {name} ({reason})" in caplog.text


@pytest.mark.parametrize("archive", ["tar", "zip"])
def test_archive_entries_that_are_no_files_are_skipped_with_a_reason(archive, sample, tmp_path):
    """The same for archives: a directory named like an image, a link inside a tar that points
    at a missing member, and one that points at a member (read through it)."""
    good = read_jpegs(ORIGINALS_TAR, 3)
    names = sorted(good)
    path = tmp_path / f"a.{archive}"
    if archive == "tar":
        with tarfile.open(path, "w") as t:
            for n in names:
                info = tarfile.TarInfo(n)
                info.size = len(good[n])
                t.addfile(info, io.BytesIO(good[n]))
            for name, kind, target in (
                ("000102.jpg", tarfile.DIRTYPE, ""),
                ("000111.jpg", tarfile.SYMTYPE, "gone.jpg"),
                ("000120.jpg", tarfile.SYMTYPE, names[0]),
            ):
                info = tarfile.TarInfo(name)
                info.type, info.linkname = kind, target
                t.addfile(info)
        expected = {"000102.jpg": "not_a_file", "000111.jpg": "unreadable"}
    else:
        with zipfile.ZipFile(path, "w") as z:
            for n in names:
                z.writestr(n, good[n])
            z.writestr("000102.jpg/", b"")
            z.writestr("folder/", b"")  # structure, not an entry
        expected = {"000102.jpg/": "not_a_file"}
    m = prepare_celeba(path, tmp_path / "out", size=64, split=Split(0.5))
    assert {s["name"]: s["reason"] for s in m["skipped_items"]} == expected
    written = 3 + (archive == "tar")
    assert m["counts"]["written"] == written and accounted(m["counts"]) == written + len(expected)


def test_size_limits_are_configurable_and_read_from_the_header(sample, tmp_path):
    good = read_jpegs(ORIGINALS_TAR, 4)
    names = sorted(good)
    members = {n: good[n] for n in names[:2]}  # 178 x 218
    for n in names[2:]:  # 89 x 109
        buf = io.BytesIO()
        Image.open(io.BytesIO(good[n])).resize((89, 109)).save(buf, "JPEG")
        members[n] = buf.getvalue()
    members["000050.jpg"] = jpeg_claiming(60000, 60000)  # past Pillow's own bomb limit too
    tar = make_tar(tmp_path / "t.tar", members)

    def reasons(**limits):
        m = prepare_celeba(tar, tmp_path / str(limits), size=64, split=Split(0.5), **limits)
        assert accounted(m["counts"]) == m["counts"]["inputs"] == 5
        return {s["name"]: s["reason"] for s in m["skipped_items"]}

    assert reasons() == {"000050.jpg": "too_large"}
    # the library's defaults are the config's (one value each, stated twice)
    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    data = schema["properties"]["data"]["properties"]
    assert (data["min_side"]["default"], data["max_pixels"]["default"]) == (
        DEFAULT_MIN_SIDE,
        DEFAULT_MAX_PIXELS,
    )
    small = {n: "too_small" for n in names[2:]}
    assert reasons(min_side=100) == {"000050.jpg": "too_large", **small}
    large = {n: "too_large" for n in names[:2]}
    assert reasons(max_pixels=89 * 109) == {"000050.jpg": "too_large", **large}


def test_missing_attribute_policy(bad_inputs, tmp_path):
    m = prepare_celeba(
        bad_inputs,
        tmp_path / "skip",
        size=64,
        attributes=ATTR_FILE,
        split=Split(0.5),
        on_missing_attributes="skip",
    )
    assert m["counts"]["skipped"]["no_attribute_row"] == 1 and m["counts"]["written"] == 6
    assert accounted(m["counts"]) == 12
    with pytest.raises(ValueError, match=r"1 image\(s\) have no row in .*list_attr.*020001\.jpg"):
        prepare_celeba(
            bad_inputs,
            tmp_path / "err",
            size=64,
            attributes=ATTR_FILE,
            split=Split(0.5),
            on_missing_attributes="error",
        )
    assert not (tmp_path / "err").exists()


def test_one_worker_and_two_workers_write_the_same(sample, tmp_path):
    a = prepare_celeba(ORIGINALS_TAR, tmp_path / "a", size=64, max_images=100, workers=1, chunk=32)
    b = prepare_celeba(ORIGINALS_TAR, tmp_path / "b", size=64, max_images=100, workers=2, chunk=32)
    assert a["counts"] == b["counts"] and a["counts"]["beyond_max_images"] == 458
    ga, gb = (zarr.open_group(tmp_path / d / "images.zarr") for d in "ab")
    assert (ga["images"][:] == gb["images"][:]).all() and ga["ids"][:].tolist() == list(
        range(1, 101)
    )


def test_zip_and_folder_inputs(sample, tmp_path):
    jpegs = read_jpegs(ORIGINALS_TAR, 10)
    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as z:
        for n, d in jpegs.items():
            z.writestr(f"img_align_celeba/{n}", d)
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for n, d in jpegs.items():
        (folder / n).write_bytes(d)
    mz = prepare_celeba(
        tmp_path / "img_align_celeba.zip", tmp_path / "z", size=64, split=Split(0.8)
    )
    mf = prepare_celeba(folder, tmp_path / "f", size=64, split=Split(0.8))
    assert mz["counts"]["written"] == mf["counts"]["written"] == 10
    gz, gf = (zarr.open_group(tmp_path / d / "images.zarr") for d in "zf")
    assert (gz["images"][:] == gf["images"][:]).all()


def test_failures_leave_no_outputs(sample, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(
        ValueError, match="split.train_size=170000 gives 170000 training images of 558"
    ):
        prepare_celeba(ORIGINALS_TAR, out, size=64, split=Split(170000))
    with pytest.raises(ValueError, match=r"data.crop_box=\[0, 0, 200, 218\]"):
        prepare_celeba(ORIGINALS_TAR, out, size=64, crop_box=(0, 0, 200, 218))
    junk = make_tar(
        tmp_path / "junk.tar",
        {"a/000001.jpg": b"nope", "a/000002.jpg": b"nope", "a/000003.jpg": b"x"},
    )
    with pytest.raises(ValueError, match="only 0 image"):
        prepare_celeba(junk, out, size=64, split=Split(0.5))
    assert not out.exists() or not any(out.iterdir())


def test_split_is_recorded_and_seeded():
    a, b = Split(0.75, seed=3).assign(100), Split(0.75, seed=3).assign(100)
    assert (a == b).all() and (a == 0).sum() == 75
    assert not (Split(0.75, seed=4).assign(100) == a).all()
    ordered = Split(30, shuffle=False).assign(40)
    assert ordered[:30].tolist() == [0] * 30 and ordered[30:].tolist() == [1] * 10
    with pytest.raises(ValueError, match="whole count"):
        Split(2.5).assign(10)


def test_prepare_synthetic(tmp_path):
    m = prepare_synthetic(
        tmp_path, n_images=40, size=64, seed=5, split=Split(0.9), workers=2, chunk=16
    )
    g, _, rows = load(tmp_path)
    assert g["images"].shape == (40, 64, 64, 3) and g["ids"][:].tolist() == list(range(1, 41))
    assert m["counts"]["written"] == 40 and m["split"]["holdout"] == 4
    assert g["attributes"].attrs["names"][0] == "Male" and len(rows) == 41
    # the attributes also in CelebA's own file format, read back by the CelebA parser
    table = celeba.read_attributes(tmp_path / "list_attr.txt")
    assert table.declared_count == 40 and table.names == g["attributes"].attrs["names"]
    assert (table.ids == g["ids"][:]).all() and (table.values == g["attributes"][:]).all()


def test_the_official_split_comes_from_the_partition_file_by_id(sample, tmp_path):
    """data.split.partitions: CelebA's list_eval_partition.txt decides train and holdout by id, so
    a corrupt image in between shifts nothing; images of a partition in neither list, or without a
    row, are skipped with their reason and counted."""
    good = read_jpegs(ORIGINALS_TAR, 12)
    members = {f"img_align_celeba/{n}": good[n] for n in sorted(good)}
    members["img_align_celeba/000005.jpg"] = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
    tar = make_tar(tmp_path / "celeba.tar", members)
    rows = {i: 0 for i in range(1, 7)} | {7: 1, 8: 1, 9: 1, 10: 2, 11: 2}  # 12: no row
    part_file = tmp_path / "list_eval_partition.txt"
    part_file.write_text("".join(f"{i:06d}.jpg {p}\n" for i, p in rows.items()))
    split = Split(partition=celeba.read_partition(part_file), train_parts=(0,), holdout_parts=(1,))
    m = prepare_celeba(tar, tmp_path / "out", size=64, split=split, workers=2, chunk=4)
    g, _, _ = load(tmp_path / "out")
    flags = dict(zip(g["ids"][:].tolist(), g["split"][:].tolist()))
    assert flags == {1: 0, 2: 0, 3: 0, 4: 0, 6: 0, 7: 1, 8: 1, 9: 1}
    c = m["counts"]
    assert c["skipped"] == {"corrupt": 1, "outside_split": 2, "no_partition_row": 1}
    assert c["inputs"] == 12 and accounted(c) == 12
    assert m["split"]["partitions"] == {"train": [0], "holdout": [1]}
    assert (m["split"]["train"], m["split"]["holdout"]) == (5, 3)
    # the papers' split: holdout = validation and test
    both = Split(partition=celeba.read_partition(part_file))
    assert both.assign(4, np.array([1, 7, 10, 11])).tolist() == [0, 1, 1, 1]


def test_a_bad_partition_file_or_split_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "list_eval_partition.txt"
    bad.write_text("000001.jpg 0\n000002.jpg 3\n")
    with pytest.raises(celeba.AnnotationError, match="partitions must be 0, 1 or 2"):
        celeba.read_partition(bad)
    bad.write_text("000001.jpg zero\n")
    with pytest.raises(celeba.AnnotationError, match="line 1: expected"):
        celeba.read_partition(bad)
    with pytest.raises(ValueError, match="both train and holdout"):
        Split(partition={1: 0}, train_parts=(0, 1), holdout_parts=(1, 2))
    only_train = Split(partition={1: 0, 2: 0})
    with pytest.raises(ValueError, match="data.split.partitions"):
        only_train.assign(2, np.array([1, 2]))


def _picture(w: int, h: int, fmt: str, left=(255, 0, 0), right=(0, 0, 255)) -> bytes:
    """A w x h image, its left half one colour and its right half another (the middle column of a
    wide image falls inside a centred square crop)."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2], a[:, w // 2 :] = left, right
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt)
    return buf.getvalue()


def test_a_folder_of_ones_own_images_any_names_formats_and_sizes(tmp_path):
    """data.source: folder. A messy folder (nested, spaces in names, JPEG/PNG/WebP/BMP of several
    sizes, a text file, a corrupt PNG) and an attribute CSV that misses some files and names one
    that is not there: ids follow the sorted paths, the manifest maps them back, every file is
    written or skipped with a reason, the crop is the centred square."""
    from caelatent.stages.data import prepare_folder

    root = tmp_path / "my photos"
    (root / "holiday 2024" / "day one").mkdir(parents=True)
    files = {
        "a.jpg": _picture(120, 80, "JPEG"),
        "b face.PNG": _picture(90, 150, "PNG"),
        "holiday 2024/c.webp": _picture(200, 100, "WEBP"),
        "holiday 2024/day one/d.bmp": _picture(64, 64, "BMP"),
        "holiday 2024/day one/e.jpeg": _picture(300, 300, "JPEG"),
        "notes.txt": b"not a picture\n",
        "holiday 2024/broken.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    csv_path = tmp_path / "attrs.csv"
    csv_path.write_text(
        "file,Smiling,Eyeglasses\n"
        "a.jpg,1,0\n"
        "holiday 2024/c.webp,-1,1\n"
        "holiday 2024/day one/e.jpeg,0,-1\n"
        "gone.jpg,1,1\n"
    )
    m = prepare_folder(root, tmp_path / "out", size=32, attributes=csv_path, split=Split(0.5))
    g, _, rows = load(tmp_path / "out")
    images = sorted(n for n in files if n != "notes.txt")
    written = [n for n in images if n != "holiday 2024/broken.png"]
    assert m["id_to_path"] == {str(images.index(n) + 1): n for n in written}
    assert g["ids"][:].tolist() == [images.index(n) + 1 for n in written]
    c = m["counts"]
    assert c["inputs"] == 7 and accounted(c) == 7
    assert c["skipped"] == {"not_image": 1, "corrupt": 1}
    assert c["missing_attributes"] == 2 and m["attribute_rows_without_image"] == 1
    attrs = dict(zip(g["ids"][:].tolist(), g["attributes"][:].tolist()))
    assert attrs[images.index("a.jpg") + 1] == [1, -1]
    assert attrs[images.index("holiday 2024/c.webp") + 1] == [-1, 1]
    assert attrs[images.index("b face.PNG") + 1] == [0, 0]  # no row: kept, counted
    assert g["images"].shape == (5, 32, 32, 3)
    # the centred square of a 200x100 image (red | blue) shows both halves, red on the left
    c_img = g["images"][g["ids"][:].tolist().index(images.index("holiday 2024/c.webp") + 1)]
    assert c_img[16, 2, 0] > 200 > c_img[16, 2, 2] and c_img[16, 29, 2] > 200 > c_img[16, 29, 0]
    # a box in fractions of the image: the left quarter of the wide image is all red
    prepare_folder(root, tmp_path / "left", size=32, crop_box=[0, 0, 0.25, 1], split=Split(0.5))
    g2, _, _ = load(tmp_path / "left")
    left = g2["images"][g2["ids"][:].tolist().index(images.index("holiday 2024/c.webp") + 1)]
    assert left[..., 0].min() > 200 and left[..., 2].max() < 60
    with pytest.raises(ValueError, match="data.folder.crop_box"):
        prepare_folder(root, tmp_path / "bad", crop_box=[0.5, 0, 0.2, 1])
