"""Rules experiment_tables and comparison_tables -> caelatent.stages.report.tables."""

from caelatent.logs import run_rule

run_rule(snakemake, "report.tables")
