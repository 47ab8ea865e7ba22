"""Rule innermost_maps -> caelatent.stages.attributes.innermost_maps."""

from caelatent.logs import run_rule

run_rule(snakemake, "attributes.innermost_maps")
