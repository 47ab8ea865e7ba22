"""Rule download_celeba -> caelatent.stages.data.download_celeba."""

from caelatent.logs import run_rule

run_rule(snakemake, "data.download_celeba")
