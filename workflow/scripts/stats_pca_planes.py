"""Rule pca_planes -> caelatent.stages.stats.pca_planes."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.pca_planes")
