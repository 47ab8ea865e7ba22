"""Generation stage: decode statistical latent vectors, measure each sampler."""


rule generate:
    input:
        images=images_of,
        latents="results/{exp}/latents.zarr",
        decoder="results/{exp}/model/decoder.keras",
        dominant="results/{exp}/stats/dominant_components.tsv",
    output:
        samples=directory("results/{exp}/samples"),
        grids=report(
            directory("results/{exp}/figures/samples"),
            patterns=["samples_{name}.png"],
            caption="../report/samples.rst",
            category="Generation",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/generate.log",
    benchmark:
        "benchmarks/results/{exp}/generate.tsv"
    conda:
        "../../envs/model.yaml"
    threads: config["threads"]["train"]
    resources:
        gpu=gpus,
    params:
        p=exp_param("generate"),
        device=device_params,
        seed=exp_param("seed"),
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
        chart=report(
            "results/{exp}/figures/sampler_summary.png",
            caption="../report/sampler_summary.rst",
            category="Generation",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/evaluate.log",
    benchmark:
        "benchmarks/results/{exp}/evaluate.tsv"
    conda:
        "../../envs/model.yaml"
    threads: config["threads"]["train"]
    resources:
        gpu=gpus,
    params:
        p=exp_param("evaluate"),
        device=device_params,
        seed=exp_param("seed"),
    script:
        "../scripts/evaluate.py"
