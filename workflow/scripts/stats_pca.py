"""Rule pca -> caelatent.stages.stats.pca."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.pca")
