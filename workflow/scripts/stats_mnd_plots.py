"""Rule mnd_plots -> caelatent.stages.stats.mnd_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.mnd_plots")
