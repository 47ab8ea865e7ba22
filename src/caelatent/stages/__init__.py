"""Stage runners: one module per ``workflow/rules/*.smk``, one function per rule.

A runner loads its inputs, calls the computation (:mod:`caelatent.latent.describe`, :mod:`caelatent.latent.normality`,
...) or the drawing (:mod:`caelatent.plots`), and writes through :mod:`caelatent.files.records`. Every path is a
keyword argument named as the rule names it, every setting as the config names it, so a workflow
script passes ``snakemake.input``, ``snakemake.output`` and the params through unchanged
(:func:`caelatent.logs.run_rule`).
"""
