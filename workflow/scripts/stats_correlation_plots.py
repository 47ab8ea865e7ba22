"""Rule correlation_plots -> caelatent.stages.stats.correlation_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.correlation_plots")
