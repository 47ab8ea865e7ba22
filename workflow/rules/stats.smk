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
        grid=report("results/{exp}/figures/components_histograms_grid.png", category="Statistics"),
        overlay=report("results/{exp}/figures/components_overlay_all.png", category="Statistics"),
        dominant_fig=report(
            "results/{exp}/figures/components_dominant_mean_sigma.png", category="Statistics"
        ),
    params:
        p=config["stats"]["components"],
    log:
        "logs/{exp}/stats/components.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_components.py"


rule radius:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        table="results/{exp}/stats/radius_uniform.tsv",
        summary="results/{exp}/stats/radius.json",
        fig=report("results/{exp}/figures/radius_distributions.png", category="Statistics"),
    params:
        p=config["stats"]["radius"],
        seed=config["seed"],
    log:
        "logs/{exp}/stats/radius.log",
    conda:
        "../../envs/stats.yaml"
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
        fig_matrix=report("results/{exp}/figures/correlation_matrix.png", category="Statistics"),
        fig_pairs=report(
            "results/{exp}/figures/correlation_top_pairs_scatter.png", category="Statistics"
        ),
    params:
        p=config["stats"]["correlations"],
        seed=config["seed"],
    log:
        "logs/{exp}/stats/correlations.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_correlations.py"


rule pca:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        table="results/{exp}/stats/pca_eigenvalues.tsv",
        summary="results/{exp}/stats/pca.json",
        fig_spectrum=report("results/{exp}/figures/pca_spectrum.png", category="Statistics"),
        fig_planes=report("results/{exp}/figures/pca_planes.png", category="Statistics"),
    params:
        p=config["stats"]["pca"],
    log:
        "logs/{exp}/stats/pca.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_pca.py"


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
        fig_contours=report("results/{exp}/figures/mnd_contours_vs_ellipses.png", category="Normality"),
        fig_marginals=report("results/{exp}/figures/mnd_marginals.png", category="Normality"),
        fig_qq=report("results/{exp}/figures/mnd_mahalanobis_qq_chi2.png", category="Normality"),
        fig_shells=report("results/{exp}/figures/mnd_sigma_shells.png", category="Normality"),
    params:
        p=config["stats"]["mnd"],
        seed=config["seed"],
    log:
        "logs/{exp}/stats/mnd.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_mnd.py"


rule origin:
    input:
        latents="results/{exp}/latents.zarr",
        moments="results/{exp}/stats/moments.npz",
    output:
        summary="results/{exp}/stats/origin.json",
        fig=report("results/{exp}/figures/origin_mahalanobis_position.png", category="Normality"),
    log:
        "logs/{exp}/stats/origin.log",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/stats_origin.py"
