"""What made each results folder: package version, git commit, library hash, the experiment's config."""


rule provenance:
    input:
        outputs=lambda wc: experiment_outputs(wc.exp),
    output:
        record="results/{exp}/provenance.json",
    log:
        "logs/{exp}/provenance.log",
    benchmark:
        "benchmarks/results/{exp}/provenance.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("provenance"),
    params:
        config=lambda wc: EXPERIMENTS[wc.exp] | {"replicate_train_seed": TRAIN_SEED[wc.exp]},
        experiment=lambda wc: wc.exp,
    script:
        "../scripts/provenance.py"
