"""Only stale stages rerun: dry runs in a copy of the demo run (conftest.demo_copy) after a config or library edit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml


from conftest import replace_file, snakemake


def scheduled(wf: Path, extra: dict | None = None) -> dict[str, int]:
    """Jobs a dry run schedules after the demo run, with ``extra`` layered over the demo config."""
    args = ["-n", "--configfile", "config/demo.yaml"]
    if extra:
        replace_file(wf / "edit.yaml", yaml.safe_dump(extra))
        args.append("edit.yaml")
    out = snakemake(wf, *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


TABLES = {"experiment_tables", "comparison_tables"}  # report pages of the summary tables
STATS_AND_LATER = {
    "moments",
    "components",
    "radius",
    "correlations",
    "pca",
    "mnd",
    "origin",
    "generate",
    "evaluate",
    "attributes",
    "attribute_plots",
    "arithmetic",
    "innermost_maps",
}


@pytest.mark.slow
def test_noop_run_schedules_nothing(demo_copy):
    assert scheduled(demo_copy) == {}


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit, rules",
    [
        # what a figure shows is computed by a table rule of its own, which the analysis and the
        # comparison do not read
        ({"stats": {"pca_planes": {"planes": [[0, 2]]}}}, {"pca_planes", "pca_plots"}),
        (
            {"stats": {"correlation_scatter": {"top_pairs": 4}}},
            {"correlation_scatter", "correlation_plots"},
        ),
        ({"stats": {"component_plots": {"grid": [0, 1, 2]}}}, {"component_plots"}),
        ({"stats": {"radius": {"uniform_b": [1.0, 2.0]}}}, {"radius", "radius_plots"}),
        # the planes drawn rerun neither the normality tests nor the arithmetic
        ({"stats": {"mnd_planes": {"n_planes": 2}}}, {"mnd_planes", "mnd_plots"}),
        (
            {"attributes": {"projections": {"pcs": 10}}},
            {"attribute_projections", "attribute_plots"},
        ),
        ({"attributes": {"arithmetic": {"max_scale": 2.0}}}, {"arithmetic", "arithmetic_plots"}),
        ({"innermost_maps": {"steps": 20}}, {"innermost_maps", "innermost_maps_plots"}),
        # attribute directions feed the plots and the arithmetic grids
        (
            {"attributes": {"stats": {"min_count": 30}}},
            {
                "attributes",
                "attribute_projections",
                "attribute_plots",
                "arithmetic",
                "arithmetic_plots",
                "experiment_tables",
            },
        ),
        # not plot-only: the face threshold changes the summary, which the comparison reads, and
        # the face checks of the arithmetic grids
        (
            {"evaluate": {"min_confidence": 0.8}},
            {
                "evaluate",
                "evaluate_plots",
                "compare",
                "compare_plots",
                "arithmetic",
                "arithmetic_plots",
            }
            | TABLES,
        ),
        # more null runs: the null and the tests again, not the core fit
        (
            {"stats": {"mnd": {"null_runs": 300}}},
            {"normality_null", "mnd", "mnd_plots", "compare", "compare_plots"} | TABLES,
        ),
        # the grid layout only redraws the grids
        ({"generate": {"grid": [2, 5]}}, {"generate_plots"}),
    ],
)
def test_a_parameter_reruns_only_its_rule_and_what_reads_its_output(demo_copy, edit, rules):
    assert set(scheduled(demo_copy, edit)) - {"all", "provenance"} == rules


PLOT_RULES = {
    "component_plots",
    "radius_plots",
    "correlation_plots",
    "pca_plots",
    "mnd_plots",
    "origin_plots",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "module, rules",
    [
        # a figure edit reruns the plot rules that draw with it, and no table rule
        ("plots/stats.py", PLOT_RULES),
        ("plots/compare.py", {"compare_plots"}),
        ("plots/train.py", {"train_plots"}),
        ("plots/generate.py", {"generate_plots", "evaluate_plots"}),
        ("plots/attributes.py", {"attribute_plots", "arithmetic_plots", "innermost_maps_plots"}),
        # a computation edit reruns the table rule that uses it, and what reads its tables
        (
            "latent/normality.py",
            {"mnd_core", "normality_null", "mnd", "mnd_plots", "compare", "compare_plots"} | TABLES,
        ),
    ],
)
def test_a_library_edit_reruns_only_the_rules_whose_code_changed(demo_copy, module, rules):
    """demo.yaml sets library_rerun: true; the demo's workflow copy runs its own library copy."""
    path = demo_copy / "src" / "caelatent" / module
    replace_file(path, path.read_text() + "\n# an edit\n")
    assert set(scheduled(demo_copy)) - {"all", "provenance"} == rules


@pytest.mark.slow
def test_z_dim_reruns_training_and_everything_after_but_not_prepare(demo_copy):
    jobs = scheduled(demo_copy, {"model": {"z_dim": 32}})
    assert "prepare" not in jobs
    assert {"train", "encode"} | STATS_AND_LATER <= set(jobs)


@pytest.mark.slow
def test_a_training_setting_reruns_training_but_not_prepare(demo_copy):
    jobs = scheduled(demo_copy, {"train": {"shuffle_window": 1024, "precision": "mixed_bfloat16"}})
    assert "prepare" not in jobs and {"train", "encode"} | STATS_AND_LATER <= set(jobs)


@pytest.mark.slow
def test_split_reruns_prepare_and_everything_after(demo_copy):
    jobs = scheduled(demo_copy, {"data": {"split": {"train_size": 0.8}}})
    assert {"prepare", "train", "encode"} | STATS_AND_LATER <= set(jobs)


@pytest.mark.slow
def test_image_size_reruns_prepare_too(demo_copy):
    jobs = scheduled(demo_copy, {"data": {"size": 96}})
    assert {"prepare", "train", "encode"} | STATS_AND_LATER <= set(jobs)
