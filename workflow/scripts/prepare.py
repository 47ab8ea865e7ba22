"""Thin adapter: rule prepare -> caelatent.prepare."""

from caelatent.logs import start_job

start_job(snakemake)

from pathlib import Path  # noqa: E402

from caelatent.prepare import Split, prepare_celeba, prepare_synthetic  # noqa: E402

p = snakemake.params.prepare
out_dir = Path(snakemake.output.manifest).parent
size = int(snakemake.wildcards.size)
split = Split(train_size=p["split"]["train_size"], shuffle=p["split"]["shuffle"], seed=p["seed"])
common = dict(size=size, split=split, workers=snakemake.threads, chunk=p["chunk_size"])
if snakemake.wildcards.dataset == "synthetic":
    prepare_synthetic(out_dir, n_images=p["n_images"], seed=p["seed"], **common)
else:
    prepare_celeba(
        snakemake.input.images,
        out_dir,
        crop_box=p["crop_box"],
        attributes=snakemake.input.attributes or None,
        identities=snakemake.input.identities or None,
        on_missing_attributes=p["on_missing_attributes"],
        max_images=p["max_images"],
        **common,
    )
