"""Rule attribute_projections -> caelatent.stages.attributes.attribute_projections."""

from caelatent.logs import run_rule

run_rule(snakemake, "attributes.attribute_projections")
