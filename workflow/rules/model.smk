"""Model stage: train the CAE on a prepared dataset, encode every image."""


rule train:
    input:
        images=images_of,
    output:
        encoder="results/{exp}/model/encoder.keras",
        decoder="results/{exp}/model/decoder.keras",
        history="results/{exp}/model/history.tsv",
        reconstructions="results/{exp}/model/holdout_reconstructions.npz",
    log:
        "logs/{exp}/train.log",
    benchmark:
        "benchmarks/results/{exp}/train.tsv"
    conda:
        MODEL_ENV
    threads: config["threads"]["train"]
    resources:
        gpu=train_gpus,
        mem_mb=exp_param("train/mem_mb"),
        runtime=exp_param("train/runtime_min"),
    params:
        library=library("model.train"),
        model=model_params,
        settings=train_params,
        fit=fit_options,
        device=device_params,
        checkpoint=lambda wc: f"results/{wc.exp}/checkpoint",
        tensorboard=tensorboard_dir,
    script:
        "../scripts/train.py"


rule train_plots:
    input:
        history=rules.train.output.history,
        reconstructions=rules.train.output.reconstructions,
    output:
        fig_loss_curve=report(
            "results/{exp}/figures/train_loss_curve.png",
            caption="../report/train_loss_curve.rst",
            category="Training",
            subcategory="{exp}",
        ),
        fig_reconstructions=report(
            "results/{exp}/figures/holdout_reconstructions.png",
            caption="../report/holdout_reconstructions.rst",
            category="Training",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/train_plots.log",
    benchmark:
        "benchmarks/results/{exp}/train_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("model.train_plots"),
        loss=exp_param("train/loss"),
    script:
        "../scripts/train_plots.py"


rule encode:
    input:
        images=images_of,
        encoder=rules.train.output.encoder,
    output:
        latents=directory("results/{exp}/latents.zarr"),
    log:
        "logs/{exp}/encode.log",
    benchmark:
        "benchmarks/results/{exp}/encode.tsv"
    conda:
        MODEL_ENV
    threads: config["threads"]["train"]
    resources:
        mem_mb=memory_mb("encode"),
        gpu=gpus,
    params:
        library=library("model.encode"),
        device=device_params,
    script:
        "../scripts/encode.py"
