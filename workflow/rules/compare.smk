"""Cross-experiment comparison of the experiments listed under `run`."""


rule compare:
    input:
        eigenvalues=compared(rules.pca.output.table),
        mnd=compared(rules.mnd.output.summary),
        dominant=compared(rules.components.output.dominant),
        summary=compared(rules.evaluate.output.summary),
    output:
        table="results/comparison/experiments.tsv",
        faces="results/comparison/face_rates.tsv",
    log:
        "logs/comparison.log",
    conda:
        "../../envs/stats.yaml"
    params:
        library=library("compare.compare"),
        names=config["run"],
    script:
        "../scripts/compare.py"


rule compare_plots:
    input:
        eigenvalues=compared(rules.pca.output.table),
        faces=rules.compare.output.faces,
    output:
        fig=report(
            "results/comparison/experiments.png",
            caption="../report/experiments.rst",
            category="Comparison",
        ),
    log:
        "logs/comparison_plots.log",
    conda:
        "../../envs/stats.yaml"
    params:
        library=library("compare.compare_plots"),
        names=config["run"],
    script:
        "../scripts/compare_plots.py"
