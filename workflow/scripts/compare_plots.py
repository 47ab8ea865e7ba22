"""Rule compare_plots -> caelatent.stages.compare.compare_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "compare.compare_plots")
