"""Thin adapter: rule evaluate -> caelatent.generate.run_evaluate (MTCNN runs on TensorFlow)."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent import backend  # noqa: E402

dev = snakemake.params.device
backend.use(
    "tensorflow", snakemake.threads, dev["gpu_memory_fraction"]
)  # MTCNN and InceptionV3 are TensorFlow models

from caelatent.generate import run_evaluate  # noqa: E402

p, i, o = snakemake.params.p, snakemake.input, snakemake.output
run_evaluate(
    i.samples,
    i.latents,
    i.moments,
    o.summary,
    o.details,
    min_confidence=p["min_confidence"],
    fid_weights=p["fid_inception_weights"],
    k=p["realism"]["k"],
    pca_components=p["realism"]["pca_components"],
    onet_crop=p["realism"]["onet_crop"],
    seed=snakemake.params.seed,
)
