"""Generation stage: decode statistical latent vectors, measure each sampler."""


rule generate:
    input:
        images=lambda wc: f"{dataset_dir()}/images.zarr",
        latents="results/{exp}/latents.zarr",
        decoder="results/{exp}/model/decoder.keras",
        dominant="results/{exp}/stats/dominant_components.tsv",
    output:
        samples=directory("results/{exp}/samples"),
        grids=report(
            directory("results/{exp}/figures/samples"),
            patterns=["samples_{name}.png"],
            category="Generation",
        ),
    params:
        p=config["generate"],
        backend=config["train"]["backend"],
        seed=config["seed"],
    threads: config["threads"]["train"]
    log:
        "logs/{exp}/generate.log",
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/generate.py"


rule evaluate:
    input:
        samples="results/{exp}/samples",
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        summary="results/{exp}/stats/summary.tsv",
        details="results/{exp}/stats/summary.json",
        chart=report("results/{exp}/figures/sampler_summary.png", category="Generation"),
    params:
        p=config["evaluate"],
    threads: config["threads"]["train"]
    log:
        "logs/{exp}/evaluate.log",
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/evaluate.py"
