"""Rule train_plots -> caelatent.stages.model.train_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "model.train_plots")
