"""Rule component_plots -> caelatent.stages.stats.component_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.component_plots")
