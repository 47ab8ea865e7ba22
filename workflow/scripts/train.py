"""Rule train -> caelatent.stages.model.train."""

from caelatent.logs import run_rule

run_rule(snakemake, "model.train")
