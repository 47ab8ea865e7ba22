"""Cross-experiment comparison of the experiments listed under `run`."""


rule compare:
    input:
        eigenvalues=compared("stats/pca_eigenvalues.tsv"),
        mnd=compared("stats/mnd_fit.json"),
        dominant=compared("stats/dominant_components.tsv"),
        summary=compared("stats/summary.tsv"),
    output:
        table="results/comparison/experiments.tsv",
        faces="results/comparison/face_rates.tsv",
        fig=report(
            "results/comparison/experiments.png",
            caption="../report/experiments.rst",
            category="Comparison",
        ),
    log:
        "logs/comparison.log",
    conda:
        "../../envs/stats.yaml"
    params:
        names=config["run"],
    script:
        "../scripts/compare.py"
