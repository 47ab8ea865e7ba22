"""Rule encode -> caelatent.stages.model.encode."""

from caelatent.logs import run_rule

run_rule(snakemake, "model.encode")
