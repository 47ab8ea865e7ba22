"""Rule prepare -> caelatent.stages.data.prepare."""

from caelatent.logs import run_rule

run_rule(snakemake, "data.prepare")
