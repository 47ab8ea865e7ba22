"""Thin adapter: rule download_celeba -> caelatent.download."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.download import download_celeba_file  # noqa: E402

download_celeba_file(
    snakemake.wildcards.file,
    snakemake.output[0],
    mirrors=snakemake.params.mirrors,
    md5="published" if snakemake.params.verify == "published" else None,
    use_published=snakemake.params.published,
    timeout=snakemake.params.timeout,
)
