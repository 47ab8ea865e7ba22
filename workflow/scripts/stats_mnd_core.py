"""Rule mnd_core -> caelatent.stages.stats.mnd_core."""

from caelatent.logs import run_rule

run_rule(snakemake, "stats.mnd_core")
