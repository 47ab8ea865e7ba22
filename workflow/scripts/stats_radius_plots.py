"""Rule radius_plots -> caelatent.stages.stats.radius_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.radius_plots")
