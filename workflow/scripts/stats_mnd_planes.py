"""Rule mnd_planes -> caelatent.stages.stats.mnd_planes."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.mnd_planes")
