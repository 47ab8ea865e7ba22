import numpy as np
import pytest

from caelatent.files import celeba
from conftest import ATTR_FILE, IDENTITY_FILE


def test_real_attribute_file_is_read_to_the_end_not_by_its_count_line(sample, caplog):
    table = celeba.read_attributes(ATTR_FILE)
    assert table.declared_count == 202599
    assert len(table) == 20000  # the rows actually present; no newline after the last one
    assert table.ids[0] == 1 and table.ids[-1] == 20000
    assert len(table.names) == 40 and table.names[20] == "Male"
    assert set(np.unique(table.values)) == {-1, 1}
    # 000001.jpg: Arched_Eyebrows=1, Attractive=1, Male=-1, Young=1 (first data line of the file)
    row, found = table.lookup(np.array([1, 20001]))
    assert found.tolist() == [True, False]
    assert row[0, table.names.index("Attractive")] == 1 and row[0, table.names.index("Male")] == -1
    assert (row[1] == 0).all()
    assert "count line says 202599" in caplog.text


def test_identity_file(sample):
    ident = celeba.read_identities(IDENTITY_FILE)
    assert len(ident) == 202599
    assert ident[1] == 2880 and ident[3] == 8692


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "3\nA B\n000001.jpg 1 -1\n000001.jpg 1 1\n",
            "line 4: duplicate row for 000001.jpg (first on line 3)",
        ),
        ("1\nA B\n000001.jpg 1\n", "line 3 (000001.jpg): 1 values for 2 attributes"),
        ("1\nA B\n000001.jpg 1 0\n", "line 3 (000001.jpg): value 0 is not +1 or -1"),
        ("1\nA B\nfoo.png 1 1\n", "line 3: 'foo.png' is not a CelebA image name"),
        ("many\nA B\n", "line 1: expected the image count"),
    ],
)
def test_bad_attribute_files_name_file_and_line(tmp_path, body, message):
    p = tmp_path / "list_attr.txt"
    p.write_text(body)
    with pytest.raises(celeba.AnnotationError) as err:
        celeba.read_attributes(p)
    assert str(p) in str(err.value) and message in str(err.value)


def test_attribute_format_round_trip(tmp_path):
    names = ["Male", "Smiling"]
    ids = np.array([3, 10, 200])
    vals = np.array([[1, -1], [-1, -1], [1, 1]], dtype=np.int8)
    celeba.write_attributes(tmp_path / "a.txt", names, ids, vals)
    assert (
        (tmp_path / "a.txt").read_bytes().startswith(b"3\r\nMale Smiling \r\n000003.jpg  1 -1\r\n")
    )
    t = celeba.read_attributes(tmp_path / "a.txt")
    assert t.names == names and t.ids.tolist() == [3, 10, 200] and (t.values == vals).all()


def test_image_ids():
    assert celeba.image_id("img_align_celeba/000042.jpg") == 42
    assert celeba.image_id("000042.JPG") == 42
    assert celeba.image_id("README.txt") is None
    assert celeba.image_id("img_align_celeba/face.jpg") is None


def test_open_container_rejects_other_files(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="neither a folder, a zip archive nor a tar"):
        celeba.open_container(tmp_path / "x.bin")
    with pytest.raises(FileNotFoundError, match="CelebA images not found"):
        celeba.open_container(tmp_path / "missing.zip")
