"""Rule attributes -> caelatent.stages.attributes.attributes."""

from caelatent.logs import run_rule

run_rule(snakemake, "attributes.attributes")
