"""Statistics stage: a table rule per analysis of an experiment's latents, and a plot rule that
only draws what table rules wrote (a figure edit reruns the plot rule alone). Where a figure shows
the latents themselves (scatter plots, histograms on planes), a table rule of its own
(correlation_scatter, pca_planes, mnd_planes) computes what it draws, so that the settings choosing
it rerun that rule and the figure, not the analysis the comparison reads."""


rule moments:
    input:
        latents=rules.encode.output.latents,
    output:
        moments="results/{exp}/stats/moments.npz",
    log:
        "logs/{exp}/stats/moments.log",
    benchmark:
        "benchmarks/results/{exp}/moments.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("moments"),
    params:
        library=library("stats.moments"),
    script:
        "../scripts/stats_moments.py"


rule components:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
    output:
        table="results/{exp}/stats/components.tsv",
        dominant="results/{exp}/stats/dominant_components.tsv",
        histograms="results/{exp}/stats/component_histograms.npz",
    log:
        "logs/{exp}/stats/components.log",
    benchmark:
        "benchmarks/results/{exp}/components.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("components"),
    params:
        library=library("stats.components"),
        settings=exp_param("stats/components"),
    script:
        "../scripts/stats_components.py"


rule component_plots:
    input:
        table=rules.components.output.table,
        dominant=rules.components.output.dominant,
        histograms=rules.components.output.histograms,
    output:
        fig_grid=report(
            "results/{exp}/figures/components_histograms_grid.png",
            caption="../report/components_histograms_grid.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
        fig_overlay=report(
            "results/{exp}/figures/components_overlay_all.png",
            caption="../report/components_overlay_all.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
        fig_dominant=report(
            "results/{exp}/figures/components_dominant_mean_sigma.png",
            caption="../report/components_dominant_mean_sigma.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/component_plots.log",
    benchmark:
        "benchmarks/results/{exp}/component_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("stats.component_plots"),
        settings=exp_param("stats/component_plots"),
    script:
        "../scripts/stats_component_plots.py"


rule radius:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
    output:
        table="results/{exp}/stats/radius_uniform.tsv",
        summary="results/{exp}/stats/radius.json",
        radii="results/{exp}/stats/radii.npz",
    log:
        "logs/{exp}/stats/radius.log",
    benchmark:
        "benchmarks/results/{exp}/radius.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("radius"),
    params:
        library=library("stats.radius"),
        settings=exp_param("stats/radius"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_radius.py"


rule radius_plots:
    input:
        summary=rules.radius.output.summary,
        radii=rules.radius.output.radii,
    output:
        fig=report(
            "results/{exp}/figures/radius_distributions.png",
            caption="../report/radius_distributions.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/radius_plots.log",
    benchmark:
        "benchmarks/results/{exp}/radius_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("stats.radius_plots"),
    script:
        "../scripts/stats_radius_plots.py"


rule correlations:
    input:
        moments=rules.moments.output.moments,
    output:
        matrix="results/{exp}/stats/correlation_matrix.tsv",
        counts="results/{exp}/stats/correlation_counts.tsv",
        pairs="results/{exp}/stats/correlated_pairs.tsv",
    log:
        "logs/{exp}/stats/correlations.log",
    benchmark:
        "benchmarks/results/{exp}/correlations.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("correlations"),
    params:
        library=library("stats.correlations"),
        settings=exp_param("stats/correlations"),
    script:
        "../scripts/stats_correlations.py"


rule correlation_scatter:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
    output:
        scatter="results/{exp}/stats/correlation_scatter.npz",
    log:
        "logs/{exp}/stats/correlation_scatter.log",
    benchmark:
        "benchmarks/results/{exp}/correlation_scatter.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("correlation_scatter"),
    params:
        library=library("stats.correlation_scatter"),
        settings=exp_param("stats/correlation_scatter"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_correlation_scatter.py"


rule correlation_plots:
    input:
        matrix=rules.correlations.output.matrix,
        scatter=rules.correlation_scatter.output.scatter,
    output:
        fig_matrix=report(
            "results/{exp}/figures/correlation_matrix.png",
            caption="../report/correlation_matrix.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
        fig_pairs=report(
            "results/{exp}/figures/correlation_top_pairs_scatter.png",
            caption="../report/correlation_top_pairs_scatter.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/correlation_plots.log",
    benchmark:
        "benchmarks/results/{exp}/correlation_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("stats.correlation_plots"),
        caption=exp_param("stats/correlation_scatter"),
    script:
        "../scripts/stats_correlation_plots.py"


rule pca:
    input:
        moments=rules.moments.output.moments,
    output:
        table="results/{exp}/stats/pca_eigenvalues.tsv",
        summary="results/{exp}/stats/pca.json",
    log:
        "logs/{exp}/stats/pca.log",
    benchmark:
        "benchmarks/results/{exp}/pca.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("pca"),
    params:
        library=library("stats.pca"),
    script:
        "../scripts/stats_pca.py"


rule pca_planes:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
    output:
        projections="results/{exp}/stats/pca_planes.npz",
    log:
        "logs/{exp}/stats/pca_planes.log",
    benchmark:
        "benchmarks/results/{exp}/pca_planes.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("pca_planes"),
    params:
        library=library("stats.pca_planes"),
        settings=exp_param("stats/pca_planes"),
    script:
        "../scripts/stats_pca_planes.py"


rule pca_plots:
    input:
        table=rules.pca.output.table,
        summary=rules.pca.output.summary,
        projections=rules.pca_planes.output.projections,
    output:
        fig_spectrum=report(
            "results/{exp}/figures/pca_spectrum.png",
            caption="../report/pca_spectrum.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
        fig_planes=report(
            "results/{exp}/figures/pca_planes.png",
            caption="../report/pca_planes.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/pca_plots.log",
    benchmark:
        "benchmarks/results/{exp}/pca_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("stats.pca_plots"),
        caption=exp_param("stats/pca_planes"),
    script:
        "../scripts/stats_pca_plots.py"


rule mnd_core:
    input:
        latents=rules.encode.output.latents,
    output:
        core="results/{exp}/stats/mnd_core.npz",
    log:
        "logs/{exp}/stats/mnd_core.log",
    benchmark:
        "benchmarks/results/{exp}/mnd_core.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("mnd"),
    params:
        library=library("stats.mnd_core"),
        core_sigma=exp_param("stats/mnd/core_sigma"),
        max_test_n=exp_param("stats/mnd/max_test_n"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_mnd_core.py"


rule normality_null:
    input:
        core=rules.mnd_core.output.core,
    output:
        null="results/{exp}/stats/normality_null.npz",
    log:
        "logs/{exp}/stats/normality_null.log",
    benchmark:
        "benchmarks/results/{exp}/normality_null.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("normality_null"),
    params:
        library=library("stats.normality_null"),
        null_runs=exp_param("stats/mnd/null_runs"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_normality_null.py"


rule mnd:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
        core=rules.mnd_core.output.core,
        null=rules.normality_null.output.null,
    output:
        summary="results/{exp}/stats/mnd_fit.json",
        shells="results/{exp}/stats/mnd_sigma_shells.tsv",
        tests="results/{exp}/stats/mnd_normality_tests.tsv",
        qq="results/{exp}/stats/mnd_core_qq.npz",
    log:
        "logs/{exp}/stats/mnd.log",
    benchmark:
        "benchmarks/results/{exp}/mnd.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("mnd"),
    params:
        library=library("stats.mnd"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_mnd.py"


rule mnd_planes:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
        pairs=rules.correlations.output.pairs,
        dominant=rules.components.output.dominant,
    output:
        projections="results/{exp}/stats/mnd_planes.npz",
    log:
        "logs/{exp}/stats/mnd_planes.log",
    benchmark:
        "benchmarks/results/{exp}/mnd_planes.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("mnd_planes"),
    params:
        library=library("stats.mnd_planes"),
        settings=exp_param("stats/mnd_planes"),
    script:
        "../scripts/stats_mnd_planes.py"


rule mnd_plots:
    input:
        summary=rules.mnd.output.summary,
        shells=rules.mnd.output.shells,
        qq=rules.mnd.output.qq,
        projections=rules.mnd_planes.output.projections,
    output:
        fig_contours=report(
            "results/{exp}/figures/mnd_contours_vs_ellipses.png",
            caption="../report/mnd_contours_vs_ellipses.rst",
            category="Normality",
            subcategory="{exp}",
        ),
        fig_marginals=report(
            "results/{exp}/figures/mnd_marginals.png",
            caption="../report/mnd_marginals.rst",
            category="Normality",
            subcategory="{exp}",
        ),
        fig_qq=report(
            "results/{exp}/figures/mnd_mahalanobis_qq_chi2.png",
            caption="../report/mnd_mahalanobis_qq_chi2.rst",
            category="Normality",
            subcategory="{exp}",
        ),
        fig_shells=report(
            "results/{exp}/figures/mnd_sigma_shells.png",
            caption="../report/mnd_sigma_shells.rst",
            category="Normality",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/mnd_plots.log",
    benchmark:
        "benchmarks/results/{exp}/mnd_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("stats.mnd_plots"),
        caption=exp_param("stats/mnd_planes"),
    script:
        "../scripts/stats_mnd_plots.py"


rule origin:
    input:
        latents=rules.encode.output.latents,
        moments=rules.moments.output.moments,
    output:
        summary="results/{exp}/stats/origin.json",
        distances="results/{exp}/stats/origin_distances.npz",
    log:
        "logs/{exp}/stats/origin.log",
    benchmark:
        "benchmarks/results/{exp}/origin.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("origin"),
    params:
        library=library("stats.origin"),
    script:
        "../scripts/stats_origin.py"


rule origin_plots:
    input:
        summary=rules.origin.output.summary,
        distances=rules.origin.output.distances,
    output:
        fig=report(
            "results/{exp}/figures/origin_mahalanobis_position.png",
            caption="../report/origin_mahalanobis_position.rst",
            category="Normality",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/origin_plots.log",
    benchmark:
        "benchmarks/results/{exp}/origin_plots.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        mem_mb=memory_mb("figures"),
        runtime=10,
    params:
        library=library("stats.origin_plots"),
    script:
        "../scripts/stats_origin_plots.py"
