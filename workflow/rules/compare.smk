"""Cross-experiment comparison of the experiments listed under `run`."""


rule compare:
    input:
        latents=compared(rules.encode.output.latents),
        eigenvalues=compared(rules.pca.output.table),
        mnd=compared(rules.mnd.output.summary),
        shells=compared(rules.mnd.output.shells),
        history=compared(rules.train.output.history),
        dominant=compared(rules.components.output.dominant),
        summary=compared(rules.evaluate.output.summary),
    output:
        table="results/comparison/experiments.tsv",
        faces="results/comparison/face_rates.tsv",
        samplers="results/comparison/samplers.tsv",
        replicate_table="results/comparison/replicates.tsv",
        differences="results/comparison/differences.tsv",
    log:
        "logs/comparison.log",
    benchmark:
        "benchmarks/results/comparison/compare.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("compare"),
    params:
        library=library("compare.compare"),
        names=RUN,
        groups=[GROUP[r] for r in RUN],
        train_seeds=[TRAIN_SEED[r] for r in RUN],
        kinds=[EXPERIMENTS[r]["model"]["kind"] for r in RUN],
    script:
        "../scripts/compare.py"


rule compare_plots:
    input:
        eigenvalues=compared(rules.pca.output.table),
        table=rules.compare.output.table,
        samplers=rules.compare.output.samplers,
    output:
        fig=report(
            "results/comparison/experiments.png",
            caption="../report/experiments.rst",
            category="Comparison",
        ),
        heatmaps=report(
            "results/comparison/sampler_heatmaps.png",
            caption="../report/sampler_heatmaps.rst",
            category="Comparison",
        ),
        tradeoff=report(
            "results/comparison/tradeoff.png",
            caption="../report/tradeoff.rst",
            category="Comparison",
        ),
    log:
        "logs/comparison_plots.log",
    benchmark:
        "benchmarks/results/comparison/compare_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("compare.compare_plots"),
        groups=[GROUP[r] for r in RUN],
    script:
        "../scripts/compare_plots.py"
