"""Rule provenance -> caelatent.stages.report.provenance."""

from caelatent.logs import run_rule

run_rule(snakemake, "report.provenance")
