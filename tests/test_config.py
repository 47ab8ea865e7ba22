"""The config as a user writes it: the schema's defaults and checks, and bad experiments and keys named by the workflow."""

from __future__ import annotations

import copy

import pytest

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import SCHEMA, load, snakemake


def test_schema_fills_defaults():
    cfg = {"data": {"source": "synthetic"}}
    validate(cfg, SCHEMA)
    assert cfg["seed"] == 42 and cfg["threads"]["prepare"] == 8
    assert cfg["experiments"] == {"default": {}} and cfg["run"] == ["default"]
    assert cfg["data"]["size"] == 96 and cfg["data"]["chunk_size"] == 256
    assert cfg["data"]["crop_box"] == [0, 20, 178, 198]
    assert (
        cfg["data"]["celeba"]["download"]["enabled"] is True
        and cfg["data"]["split"]["train_size"] == 0.9
    )


@pytest.mark.parametrize(
    "patch, named",
    [
        ({"data": {"sizee": 64}}, "'sizee' was unexpected"),
        ({"data": {"celeba": {"download": {"mirror": []}}}}, "'mirror' was unexpected"),
        ({"trheads": {}}, "'trheads' was unexpected"),
        ({"data": {"size": 100}}, "100 is not one of [64, 96, 128]"),
        ({"data": {"max_images": "all"}}, "'all' is not of type 'integer', 'null'"),
        ({"data": {"split": {"train_size": -1}}}, "-1 is less than or equal to the minimum of 0"),
        (
            {"train": {"precision": "float16"}},
            "'float16' is not one of ['float32', 'mixed_bfloat16', 'mixed_float16']",
        ),
        ({"train": {"jit_compile": "yes"}}, "'yes' is not one of [True, False, 'auto']"),
        (
            {"train": {"backend": "theano"}},
            "'theano' is not one of ['auto', 'tensorflow', 'jax', 'torch']",
        ),
        ({"train": {"gpu_memory_fraction": 2}}, "2 is greater than the maximum of 1"),
        ({"train": {"steps_per_execution": 0}}, "0 is less than the minimum of 1"),
    ],
)
def test_schema_rejects_unknown_or_mistyped_keys(patch, named):
    cfg = copy.deepcopy(load("config.yaml"))

    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and v else v
        return a

    merge(cfg, patch)
    with pytest.raises(WorkflowError) as err:
        validate(cfg, SCHEMA)
    assert named in str(err.value)


def test_both_configs_validate():
    for name in ("config.yaml", "demo.yaml"):
        validate(load(name), SCHEMA)


def test_cli_error_names_the_bad_key(wf):
    (wf / "bad.yaml").write_text("data:\n  sorce: celeba\n")
    proc = snakemake(wf, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0 and "'sorce' was unexpected" in proc.stdout + proc.stderr


def test_missing_local_celeba_without_download_is_a_clear_error(wf):
    (wf / "local.yaml").write_text(
        "data:\n  source: celeba\n  celeba:\n    images: /data/nowhere/img_align_celeba\n"
        "    download: {enabled: false}\n"
    )
    proc = snakemake(wf, "-n", "--configfile", "local.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert (
        proc.returncode != 0
        and "data.celeba.images: /data/nowhere/img_align_celeba does not exist" in out
    )
