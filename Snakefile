import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# The workflow runs its own library (src/caelatent), in this process and in every job, whatever
# environment the job runs in (a conda env lists third-party packages only, see envs/).
LIBRARY = os.path.join(workflow.basedir, "src")
sys.path.insert(0, LIBRARY)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        [LIBRARY] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
)


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/attributes.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/provenance.smk"


# run by Snakemake itself, also under a cluster executor: downloads need the submit host's internet
# (compute nodes often have none), and tables, provenance and `all` take a second each
localrules:
    all,
    download_celeba,
    provenance,
    experiment_tables,
    comparison_tables,
    stats,
    samples,
    figures,


rule all:
    input:
        all_outputs(),


# named targets: `snakemake --cores 2 stats` (the statistics tables), `samples` (decoded samples
# and their scores), `figures` (every figure), each for every experiment under `run`
rule stats:
    input:
        target_outputs("stats"),


rule samples:
    input:
        target_outputs("samples"),


rule figures:
    input:
        target_outputs("figures"),
