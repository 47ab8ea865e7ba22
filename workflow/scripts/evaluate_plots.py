"""Rule evaluate_plots -> caelatent.stages.evaluate.evaluate_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "evaluate.evaluate_plots")
