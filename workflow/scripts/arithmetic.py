"""Rule arithmetic -> caelatent.stages.attributes.arithmetic."""

from caelatent.logs import run_rule

run_rule(snakemake, "attributes.arithmetic")
