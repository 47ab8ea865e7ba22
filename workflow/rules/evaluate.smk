"""Evaluation stage: score every sampler's decoded images (MTCNN, realism metrics), and chart it."""


rule evaluate:
    input:
        samples=rules.generate.output.samples,
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
        # an input, so that other weights rerun the evaluation (none: FID is skipped)
        fid_inception_weights=lambda wc: EXPERIMENTS[wc.exp]["evaluate"]["fid_inception_weights"]
        or [],
    output:
        summary="results/{exp}/stats/summary.tsv",
        details="results/{exp}/stats/summary.json",
    log:
        "logs/{exp}/evaluate.log",
    benchmark:
        "benchmarks/results/{exp}/evaluate.tsv"
    conda:
        MODEL_ENV
    threads: config["threads"]["train"]
    resources:
        mem_mb=memory_mb("evaluate"),
        gpu=exp_param("evaluate/gpus"),
    params:
        library=library("evaluate.evaluate"),
        settings=exp_block("evaluate", drop=("fid_inception_weights", "gpus")),
        device=device_params,
        seed=exp_param("seed"),
    script:
        "../scripts/evaluate.py"


rule evaluate_plots:
    input:
        summary=rules.evaluate.output.summary,
    output:
        chart=report(
            "results/{exp}/figures/sampler_summary.png",
            caption="../report/sampler_summary.rst",
            category="Generation",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/evaluate_plots.log",
    benchmark:
        "benchmarks/results/{exp}/evaluate_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("evaluate.evaluate_plots"),
    script:
        "../scripts/evaluate_plots.py"
