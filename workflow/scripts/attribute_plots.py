"""Rule attribute_plots -> caelatent.stages.attributes.attribute_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "attributes.attribute_plots")
