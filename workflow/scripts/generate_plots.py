"""Rule generate_plots -> caelatent.stages.generate.generate_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "generate.generate_plots")
