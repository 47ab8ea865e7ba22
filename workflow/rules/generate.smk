"""Generation stage: decode latent vectors drawn by each sampler, and draw them."""


rule generate:
    input:
        images=images_of,
        latents=rules.encode.output.latents,
        decoder=rules.train.output.decoder,
        dominant=rules.components.output.dominant,
    output:
        samples=directory("results/{exp}/samples"),
    log:
        "logs/{exp}/generate.log",
    benchmark:
        "benchmarks/results/{exp}/generate.tsv"
    conda:
        MODEL_ENV
    threads: config["threads"]["train"]
    resources:
        mem_mb=memory_mb("generate"),
        gpu=gpus,
    params:
        library=library("generate.generate"),
        settings=exp_block("generate", drop=("grid",)),
        device=device_params,
        seed=exp_param("seed"),
        sampler_seed=sampler_seed,
    script:
        "../scripts/generate.py"


rule generate_plots:
    input:
        samples=rules.generate.output.samples,
    output:
        grids=report(
            directory("results/{exp}/figures/samples"),
            patterns=["samples_{name}.png"],
            caption="../report/samples.rst",
            category="Generation",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/generate_plots.log",
    benchmark:
        "benchmarks/results/{exp}/generate_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("generate.generate_plots"),
        grid=exp_param("generate/grid"),
    script:
        "../scripts/generate_plots.py"
