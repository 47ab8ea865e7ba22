"""Rule innermost_maps_plots -> caelatent.stages.attributes.innermost_maps_plots."""

from caelatent.logs import run_rule

run_rule(snakemake, "attributes.innermost_maps_plots")
