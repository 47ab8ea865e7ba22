"""Rule evaluate -> caelatent.stages.evaluate.evaluate."""

from caelatent.logs import run_rule

run_rule(snakemake, "evaluate.evaluate")
