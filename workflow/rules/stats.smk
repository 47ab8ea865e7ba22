"""Statistics stage: one cached rule per analysis of results/<exp>/latents.zarr."""


rule moments:
    input:
        latents="results/{exp}/latents.zarr",
    output:
        moments="results/{exp}/stats/moments.npz",
    log:
        "logs/{exp}/stats/moments.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_moments.py"


rule components:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        table="results/{exp}/stats/components.tsv",
        dominant="results/{exp}/stats/dominant_components.tsv",
        histograms="results/{exp}/stats/component_histograms.npz",
    log:
        "logs/{exp}/stats/components.log",
    conda:
        "../../envs/stats.yaml"
    params:
        p=exp_param("stats/components"),
    script:
        "../scripts/stats_components.py"


rule component_plots:
    input:
        table="results/{exp}/stats/components.tsv",
        dominant="results/{exp}/stats/dominant_components.tsv",
        histograms="results/{exp}/stats/component_histograms.npz",
    output:
        grid=report(
            "results/{exp}/figures/components_histograms_grid.png",
            caption="../report/components_histograms_grid.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
        overlay=report(
            "results/{exp}/figures/components_overlay_all.png",
            caption="../report/components_overlay_all.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
        dominant_fig=report(
            "results/{exp}/figures/components_dominant_mean_sigma.png",
            caption="../report/components_dominant_mean_sigma.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/component_plots.log",
    conda:
        "../../envs/stats.yaml"
    params:
        p=exp_param("stats/component_plots"),
    script:
        "../scripts/stats_component_plots.py"


rule radius:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        table="results/{exp}/stats/radius_uniform.tsv",
        summary="results/{exp}/stats/radius.json",
        fig=report(
            "results/{exp}/figures/radius_distributions.png",
            caption="../report/radius_distributions.rst",
            category="Latent statistics",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/radius.log",
    conda:
        "../../envs/stats.yaml"
    params:
        p=exp_param("stats/radius"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_radius.py"


rule correlations:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        matrix="results/{exp}/stats/correlation_matrix.tsv",
        counts="results/{exp}/stats/correlation_counts.tsv",
        pairs="results/{exp}/stats/correlated_pairs.tsv",
    log:
        "logs/{exp}/stats/correlations.log",
    conda:
        "../../envs/stats.yaml"
    params:
        p=exp_param("stats/correlations"),
    script:
        "../scripts/stats_correlations.py"


rule correlation_plots:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
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
    conda:
        "../../envs/stats.yaml"
    params:
        p=exp_param("stats/correlation_plots"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_correlation_plots.py"


rule pca:
    input:
        moments="results/{exp}/stats/moments.npz",
    output:
        table="results/{exp}/stats/pca_eigenvalues.tsv",
        summary="results/{exp}/stats/pca.json",
    log:
        "logs/{exp}/stats/pca.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_pca.py"


rule pca_plots:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
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
    conda:
        "../../envs/stats.yaml"
    params:
        p=exp_param("stats/pca_plots"),
    script:
        "../scripts/stats_pca_plots.py"


rule mnd:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
        pairs="results/{exp}/stats/correlated_pairs.tsv",
        dominant="results/{exp}/stats/dominant_components.tsv",
    output:
        summary="results/{exp}/stats/mnd_fit.json",
        shells="results/{exp}/stats/mnd_sigma_shells.tsv",
        tests="results/{exp}/stats/mnd_normality_tests.tsv",
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
        "logs/{exp}/stats/mnd.log",
    conda:
        "../../envs/stats.yaml"
    params:
        p=exp_param("stats/mnd"),
        seed=exp_param("seed"),
    script:
        "../scripts/stats_mnd.py"


rule origin:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        summary="results/{exp}/stats/origin.json",
        fig=report(
            "results/{exp}/figures/origin_mahalanobis_position.png",
            caption="../report/origin_mahalanobis_position.rst",
            category="Normality",
            subcategory="{exp}",
        ),
    log:
        "logs/{exp}/stats/origin.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_origin.py"
