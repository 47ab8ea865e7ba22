"""Attributes stage: attribute directions in the latent cloud, latent arithmetic, innermost maps."""


rule attributes:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
    output:
        table="results/{exp}/stats/attributes.tsv",
        directions="results/{exp}/stats/attribute_directions.npz",
        summary="results/{exp}/stats/attributes.json",
    log:
        "logs/{exp}/attributes/attributes.log",
    benchmark:
        "benchmarks/results/{exp}/attributes.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("attributes"),
    params:
        library=library("attributes.attributes"),
        settings=exp_param("attributes/stats"),
    script:
        "../scripts/attributes.py"


rule attribute_projections:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
        table=rules.attributes.output.table,
        directions=rules.attributes.output.directions,
    output:
        projections="results/{exp}/stats/attribute_projections.npz",
    log:
        "logs/{exp}/attributes/attribute_projections.log",
    benchmark:
        "benchmarks/results/{exp}/attribute_projections.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("attributes"),
    params:
        library=library("attributes.attribute_projections"),
        settings=exp_param("attributes/projections"),
    script:
        "../scripts/attribute_projections.py"


rule attribute_plots:
    input:
        projections=rules.attribute_projections.output.projections,
    output:
        fig_pcs=report(
            "results/{exp}/figures/attributes_pc_projection.png",
            caption="../report/attributes_pc_projection.rst",
            category="Attributes",
            subcategory="{exp}",
        ),
        fig_radius=report(
            "results/{exp}/figures/attributes_mahalanobis.png",
            caption="../report/attributes_mahalanobis.rst",
            category="Attributes",
            subcategory="{exp}",
        ),
        fig_hist=report(
            "results/{exp}/figures/attributes_pc_histograms.png",
            caption="../report/attributes_pc_histograms.rst",
            category="Attributes",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/attributes/attribute_plots.log",
    benchmark:
        "benchmarks/results/{exp}/attribute_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("attributes.attribute_plots"),
    script:
        "../scripts/attribute_plots.py"


rule arithmetic:
    input:
        latents=rules.encode.output.latents,
        pixels=images_of,
        moments=rules.moments.output.moments,
        decoder=rules.train.output.decoder,
        directions=rules.attributes.output.directions,
    output:
        table="results/{exp}/stats/arithmetic.tsv",
        summary="results/{exp}/stats/arithmetic.json",
        images="results/{exp}/stats/arithmetic_images.npz",
    log:
        "logs/{exp}/attributes/arithmetic.log",
    benchmark:
        "benchmarks/results/{exp}/arithmetic.tsv"
    conda:
        MODEL_ENV
    threads: config["threads"]["train"]
    resources:
        mem_mb=memory_mb("arithmetic"),
        gpu=gpus,
    params:
        library=library("attributes.arithmetic"),
        settings=exp_param("attributes/arithmetic"),
        min_confidence=exp_param("evaluate/min_confidence"),
        device=device_params,
        seed=exp_param("seed"),
    script:
        "../scripts/arithmetic.py"


rule arithmetic_plots:
    input:
        summary=rules.arithmetic.output.summary,
        images=rules.arithmetic.output.images,
    output:
        grids=report(
            directory("results/{exp}/figures/arithmetic"),
            patterns=["{name}.png"],
            caption="../report/arithmetic.rst",
            category="Attributes",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/attributes/arithmetic_plots.log",
    benchmark:
        "benchmarks/results/{exp}/arithmetic_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("attributes.arithmetic_plots"),
    script:
        "../scripts/arithmetic_plots.py"


rule innermost_maps:
    input:
        encoder=rules.train.output.encoder,
    output:
        table="results/{exp}/stats/innermost_maps.tsv",
        images="results/{exp}/stats/innermost_maps.npz",
    log:
        "logs/{exp}/attributes/innermost_maps.log",
    benchmark:
        "benchmarks/results/{exp}/innermost_maps.tsv"
    conda:
        MODEL_ENV
    threads: config["threads"]["train"]
    resources:
        mem_mb=memory_mb("innermost_maps"),
        gpu=gpus,
    params:
        library=library("attributes.innermost_maps"),
        settings=exp_param("innermost_maps"),
        device=device_params,
        seed=exp_param("seed"),
    script:
        "../scripts/innermost_maps.py"


rule innermost_maps_plots:
    input:
        images=rules.innermost_maps.output.images,
    output:
        fig_grid=report(
            "results/{exp}/figures/innermost_maps.png",
            caption="../report/innermost_maps.rst",
            category="Attributes",
            subcategory="{exp}",
        ),
        fig_trace=report(
            "results/{exp}/figures/innermost_maps_ascent.png",
            caption="../report/innermost_maps_ascent.rst",
            category="Attributes",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/attributes/innermost_maps_plots.log",
    benchmark:
        "benchmarks/results/{exp}/innermost_maps_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("attributes.innermost_maps_plots"),
    script:
        "../scripts/innermost_maps_plots.py"
