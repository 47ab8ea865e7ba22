"""Report pages of the summary tables (the report shows HTML, and offers TSV files only for download)."""


rule experiment_tables:
    input:
        unpack(summary_tables),
    output:
        html=report(
            directory("results/{exp}/tables"),
            patterns=["{name}.html"],
            caption="../report/tables.rst",
            category="Tables",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/experiment_tables.log",
    benchmark:
        "benchmarks/results/{exp}/experiment_tables.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("tables"),
    params:
        library=library("report.tables"),
        title=lambda wc: f"experiment {wc.exp}",
    script:
        "../scripts/tables.py"


rule comparison_tables:
    input:
        experiments=rules.compare.output.table,
        face_rates=rules.compare.output.faces,
        samplers=rules.compare.output.samplers,
        replicates=rules.compare.output.replicate_table,
        differences=rules.compare.output.differences,
    output:
        html=report(
            directory("results/comparison/tables"),
            patterns=["{name}.html"],
            caption="../report/tables.rst",
            category="Tables",
            subcategory="comparison",
        ),
    log:
        "logs/comparison_tables.log",
    benchmark:
        "benchmarks/results/comparison/comparison_tables.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("tables"),
    params:
        library=library("report.tables"),
        title="comparison of experiments",
    script:
        "../scripts/tables.py"
