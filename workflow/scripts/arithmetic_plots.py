"""Rule arithmetic_plots -> caelatent.stages.attributes.arithmetic_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "attributes.arithmetic_plots")
