"""Model stage: train the CAE on a prepared dataset, encode every image."""


rule train:
    input:
        images=lambda wc: f"{dataset_dir()}/images.zarr",
    output:
        encoder="results/{exp}/model/encoder.keras",
        decoder="results/{exp}/model/decoder.keras",
        history="results/{exp}/model/history.tsv",
        loss_curve=report("results/{exp}/figures/train_loss_curve.png", category="Training"),
        reconstructions=report(
            "results/{exp}/figures/holdout_reconstructions.png", category="Training"
        ),
    params:
        model=model_params(),
        train=train_params(),
        checkpoint=lambda wc: f"results/{wc.exp}/checkpoint",
    threads: config["threads"]["train"]
    resources:
        gpu=lambda wc: config["train"]["gpus"],
        mem_mb=8000,
        runtime=config["train"]["runtime_min"],
    log:
        "logs/{exp}/train.log",
    benchmark:
        "benchmarks/results/{exp}/train.tsv"
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/train.py"


rule encode:
    input:
        images=lambda wc: f"{dataset_dir()}/images.zarr",
        encoder="results/{exp}/model/encoder.keras",
    output:
        latents=directory("results/{exp}/latents.zarr"),
    params:
        z_dim=config["model"]["z_dim"],
        backend=config["train"]["backend"],
    threads: config["threads"]["train"]
    resources:
        mem_mb=4000,
    log:
        "logs/{exp}/encode.log",
    benchmark:
        "benchmarks/results/{exp}/encode.tsv"
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/encode.py"
