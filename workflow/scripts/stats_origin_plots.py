"""Rule origin_plots -> caelatent.stages.stats.origin_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.origin_plots")
