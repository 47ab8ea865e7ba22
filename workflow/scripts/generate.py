"""Rule generate -> caelatent.stages.generate.generate."""

from caelatent.logs import run_rule

run_rule(snakemake, "generate.generate")
