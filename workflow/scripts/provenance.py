"""Rule provenance -> caelatent.provenance.record, with the experiment's config."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent import io, provenance  # noqa: E402

io.write_json(
    snakemake.output[0],
    {
        **provenance.record(snakemake.scriptdir),
        "experiment": snakemake.wildcards.exp,
        "config": snakemake.params.config,
        "outputs": sorted(map(str, snakemake.input)),
    },
)
