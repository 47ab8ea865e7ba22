"""Thin adapter: rule mnd -> caelatent.analyses.run_mnd."""

from caelatent.logs import start_job

start_job(snakemake)

from caelatent.analyses import choose_planes, run_mnd  # noqa: E402

p, i, o = snakemake.params.p, snakemake.input, snakemake.output
planes = p["planes"] or choose_planes(i.pairs, i.dominant, p["n_planes"])
run_mnd(
    i.latents,
    i.moments,
    o.summary,
    o.shells,
    o.tests,
    o.fig_contours,
    o.fig_marginals,
    o.fig_qq,
    o.fig_shells,
    planes=planes,
    core_sigma=p["core_sigma"],
    seed=snakemake.params.seed,
    null_runs=p["null_runs"],
    max_test_n=p["max_test_n"],
    cache_dir="results/cache/normality",
)
