"""Rule pca_plots -> caelatent.stages.stats.pca_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.pca_plots")
