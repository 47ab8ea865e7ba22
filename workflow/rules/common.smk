"""Config validation and the path/param helpers every rule uses (no logic elsewhere)."""

import copy
import os
import re
from pathlib import Path

import yaml
from snakemake.utils import validate

from caelatent.configcheck import config_errors
from caelatent.files.download import CELEBA_FILES

SCHEMA = "../../config/schema.yaml"
with open(os.path.join(workflow.basedir, "config", "schema.yaml")) as f:
    SCHEMA_DOC = yaml.safe_load(f)


def check_config(cfg, where=""):
    """Name every bad key (with `where`, the experiment block it came from), then let Snakemake's
    validate fill in the defaults."""
    problems = config_errors(cfg, SCHEMA_DOC)
    if problems:
        raise WorkflowError(
            "invalid config (config/README.md lists every key):\n"
            + "\n".join(f"  {where}{p}" for p in problems)
        )
    validate(cfg, schema=SCHEMA)


check_config(config)

DATA = config["data"]
#: the conda env of the rules that run a model (config model_env), relative to workflow/rules
MODEL_ENV = f"../../envs/{config['model_env']}.yaml"


def _merged(base, override):
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _experiments():
    """Each block under `experiments:` over the rest of the config, validated like the config."""
    base = {k: v for k, v in config.items() if k not in ("experiments", "run")}
    out = {}
    for name, override in config["experiments"].items():
        override = override or {}
        for key in {"model_env"} & set(override):
            raise WorkflowError(
                f"experiments.{name}.{key}: {key} applies to the whole run (one conda env for "
                "the model rules); set it at the top level"
            )
        for key in set(override.get("data", {})) - {"source", "size"}:
            raise WorkflowError(
                f"experiments.{name}.data.{key}: an experiment may change data.source and data.size only "
                "(prepared data are shared by dataset and size); set it in the top-level data block"
            )
        merged = _merged(base, override)
        check_config(merged, where=f"experiments.{name}.")
        out[name] = merged
    for name in config["run"]:
        if name not in out:
            raise WorkflowError(
                f"run: experiment {name!r} is not defined under experiments ({', '.join(out)})"
            )
    return out


def _replicates(experiments):
    """Runs of each experiment: one per seed of its train_seeds (named <name>-s<seed>), else one
    named after it. Returns ({run: its config}, {run: its experiment}, {run: its training seed})."""
    runs, group, seeds = {}, {}, {}
    for name, cfg in experiments.items():
        for s in cfg["train_seeds"] or [None]:
            run = name if s is None else f"{name}-s{s}"
            if run in runs or (s is not None and run in experiments):
                raise WorkflowError(
                    f"experiments.{name}.train_seeds: replicate {run!r} collides with another "
                    "experiment's name"
                )
            runs[run], group[run], seeds[run] = cfg, name, cfg["seed"] if s is None else s
    return runs, group, seeds


EXPERIMENTS, GROUP, TRAIN_SEED = _replicates(_experiments())
# the runs `all` builds and compares: every replicate of each experiment under `run`
RUN = [r for name in config["run"] for r in EXPERIMENTS if GROUP[r] == name]


def exp_block(dpath, drop=()):
    """A config block of the experiment without the keys in ``drop`` (those another rule reads)."""
    return lambda wc: {
        k: v for k, v in lookup(dpath=dpath, within=EXPERIMENTS[wc.exp]).items() if k not in drop
    }


def library(target):
    """Param `library` of a rule: with `library_rerun: true`, the hash of the library code the rule
    runs (caelatent.files.provenance.code_hash), so that editing that code reruns the rule; else a constant.
    """
    if not config["library_rerun"]:
        return "untracked (library_rerun: false)"
    from caelatent.files.provenance import code_hash

    return code_hash(target)


def exp_param(dpath):
    """A param read from the experiment's own config (wildcard exp)."""
    return lambda wc: lookup(dpath=dpath, within=EXPERIMENTS[wc.exp])


wildcard_constraints:
    dataset="synthetic|celeba|folder",
    size="64|96|128",
    file="|".join(CELEBA_FILES).replace(".", r"\."),
    exp="|".join(re.escape(e) for e in EXPERIMENTS),


#: the memory each rule declares (mem_mb), from every rule's peak RSS at CelebA's scale (202,599
#: images of 96x96, docs/memory.md, benchmarks/memory.py) with headroom: a base in MB, plus MB per
#: 1,000 images of the dataset for the rules whose memory grows with it, per image of 96x96
#: ("images") or per latent vector of 256 dimensions ("latents"). train asks for train.mem_mb.
MEMORY_MB = {
    "download_celeba": (1000, 0, None),
    "prepare": (3000, 0, None),  # measured 1,756
    "encode": (3500, 0, None),  # 2,184
    "generate": (8000, 0, None),  # 5,380
    "evaluate": (9000, 0, None),  # 6,768 at 2,000 decoded and 2,000 real images per set
    "arithmetic": (3500, 0, None),  # 1,533
    "innermost_maps": (2000, 0, None),  # 1,104
    "moments": (1000, 2, "latents"),  # 324
    "components": (1000, 2, "latents"),  # 442
    "radius": (1000, 2, "latents"),  # 278
    "correlations": (1000, 2, "latents"),  # 143
    "pca": (1000, 2, "latents"),  # 144
    "mnd": (2200, 2, "latents"),  # 508 (mnd_core as mnd: both hold the latents)
    "normality_null": (2200, 0, None),  # the cold null made mnd's peak 1,628
    "correlation_scatter": (1000, 2, "latents"),  # these three stream the latents as
    "pca_planes": (1000, 2, "latents"),  # components does (not yet measured)
    "mnd_planes": (1000, 2, "latents"),
    "origin": (1000, 2, "latents"),  # 400
    "attributes": (1500, 2, "latents"),  # 1,231
    "compare": (2000, 0, None),  # 129
    "figures": (1500, 0, None),  # every *_plots rule; at most 1,079 (attribute_plots)
    "tables": (1000, 0, None),  # experiment_tables, comparison_tables
    "provenance": (500, 0, None),
}
#: CelebA's aligned faces: the most images a celeba dataset can hold
CELEBA_IMAGES = 202_599


def n_images(data):
    """The most images a data block's dataset holds (before prepare has run)."""
    n = data["synthetic"]["n_images"] if data["source"] == "synthetic" else CELEBA_IMAGES
    return min(n, data["max_images"]) if data["max_images"] else n


def memory_mb(rule):
    """Resource ``mem_mb`` of a rule (an entry of MEMORY_MB), scaled with its experiment's data."""
    base, per_1000, scale = MEMORY_MB[rule]

    def mb(wildcards):
        if not per_1000:
            return base
        exp = EXPERIMENTS[wildcards.exp]
        if scale == "images":
            grows = (exp["data"]["size"] / 96) ** 2
        else:
            grows = exp["model"]["z_dim"] / 256
        return int(base + per_1000 * grows * n_images(exp["data"]) / 1000)

    return mb


def dataset_of(exp):
    """Wildcards of an experiment's prepared data: images are keyed by dataset and size only."""
    data = EXPERIMENTS[exp]["data"]
    return {"dataset": data["source"], "size": data["size"]}


def images_of(wildcards):
    return expand(rules.prepare.output.images, **dataset_of(wildcards.exp))[0]


def outputs_of(names, **wildcards):
    """Every output of the named rules, for these wildcards (targets are built from the rules)."""
    return [f for name in names for f in expand(list(getattr(rules, name).output), **wildcards)]


# the rules every experiment runs, and those it runs when its dataset has attributes; `all` asks for
# every output of each, so none is left without provenance
EXPERIMENT_RULES = (
    "train",
    "train_plots",
    "encode",
    "moments",
    "components",
    "component_plots",
    "radius",
    "radius_plots",
    "correlations",
    "correlation_scatter",
    "correlation_plots",
    "pca",
    "pca_planes",
    "pca_plots",
    "mnd_core",
    "normality_null",
    "mnd",
    "mnd_planes",
    "mnd_plots",
    "origin",
    "origin_plots",
    "generate",
    "generate_plots",
    "evaluate",
    "evaluate_plots",
    "innermost_maps",
    "innermost_maps_plots",
    "experiment_tables",
)
ATTRIBUTE_RULES = (
    "attributes",
    "attribute_projections",
    "attribute_plots",
    "arithmetic",
    "arithmetic_plots",
)


# named targets (`snakemake --cores 2 stats`): rules by what they make, for every experiment
STATS_RULES = ("moments", "components", "radius", "correlations", "pca", "mnd", "origin")
SAMPLE_RULES = ("generate", "evaluate")


def target_outputs(kind):
    """Inputs of the named targets: `stats` (the statistics tables), `samples` (decoded samples and
    their scores) or `figures` (every figure, the comparison's included), for every experiment
    under `run` (each replicate)."""
    out = []
    for exp in RUN:
        names = experiment_rules(exp)
        if kind == "stats":
            names = [r for r in names if r in STATS_RULES]
        elif kind == "samples":
            names = [r for r in names if r in SAMPLE_RULES]
        else:
            names = [r for r in names if r.endswith("_plots")]
        out += outputs_of(names, exp=exp)
    return out + (outputs_of(["compare_plots"]) if kind == "figures" else [])


def experiment_outputs(exp):
    return outputs_of(["prepare"], **dataset_of(exp)) + outputs_of(experiment_rules(exp), exp=exp)


def experiment_rules(exp):
    return EXPERIMENT_RULES + (ATTRIBUTE_RULES if has_attributes(exp) else ())


def _say_which_skip_attributes():
    """Name the experiments whose data have no attributes: their attribute rules do not run."""
    from snakemake.logging import logger

    for exp in RUN:
        if not has_attributes(exp):
            source = EXPERIMENTS[exp]["data"]["source"]
            logger.info(
                f"experiment {exp}: no attributes (data.{source}.attributes is null), so "
                "the rules attributes, attribute_plots, arithmetic and arithmetic_plots do not run"
            )


def has_attributes(exp):
    """Synthetic faces always carry attributes; CelebA and a folder when an attribute file is
    configured (without one the attribute rules do not run, and the log says so)."""
    data = EXPERIMENTS[exp]["data"]
    if data["source"] == "synthetic":
        return True
    return data[data["source"]]["attributes"] is not None


def all_outputs():
    """Targets of `all`: every run (replicate) of the experiments under `run`, its provenance, and
    the comparison."""
    out = [f for exp in RUN for f in experiment_outputs(exp)]
    compared = outputs_of(["compare", "compare_plots", "comparison_tables"])
    return out + outputs_of(["provenance"], exp=RUN) + compared


def model_params(wildcards):
    e = EXPERIMENTS[wildcards.exp]
    return {**e["model"], "image_size": e["data"]["size"]}


def train_params(wildcards):
    e = EXPERIMENTS[wildcards.exp]
    keys = (
        "loss",
        "learning_rate",
        "batch_size",
        "epochs",
        "max_batches_per_epoch",
    )
    return {**{k: e["train"][k] for k in keys}, "seed": TRAIN_SEED[wildcards.exp]}


def tensorboard_dir(wildcards):
    """Where train writes TensorBoard logs (train.tensorboard), else None."""
    on = EXPERIMENTS[wildcards.exp]["train"]["tensorboard"]
    return f"logs/{wildcards.exp}/tensorboard" if on else None


def sampler_seed(wildcards):
    """The samplers' draws vary with the replicate (its training seed); the real rows stay fixed."""
    return TRAIN_SEED[wildcards.exp]


def fit_options(wildcards):
    """caelatent.model.train.FitOptions of an experiment (params: an edit reruns train)."""
    t = EXPERIMENTS[wildcards.exp]["train"]
    keys = (
        "jit_compile",
        "steps_per_execution",
        "precision",
        "in_memory_mb",
        "device_mb",
        "unroll",
        "readers",
    )
    return {
        **{k: t[k] for k in keys},
        "window": t["shuffle_window"],
        "devices": max(1, t["gpus"]),
    }


def device_params(wildcards):
    """Backend, GPU memory share and batch size of every rule that runs a model."""
    t = EXPERIMENTS[wildcards.exp]["train"]
    return {
        "backend": t["backend"],
        "gpu_memory_fraction": t["gpu_memory_fraction"],
        "predict_batch_size": t["predict_batch_size"],
    }


def train_gpus(wildcards):
    """The `gpu` resource of the train jobs, SLURM's --gpus (locally --resources gpu=N), is
    train.gpus: training runs data-parallel on all of them."""
    return EXPERIMENTS[wildcards.exp]["train"]["gpus"]


def gpus(wildcards):
    """The `gpu` resource of the other rules that run a model: one GPU (0 with train.gpus: 0);
    they apply a trained model and use a single device."""
    return min(1, EXPERIMENTS[wildcards.exp]["train"]["gpus"])


def compared(pattern):
    """Input of `compare`: a rule's output (with wildcard exp) for every run under `run`."""
    return expand(pattern, exp=RUN)


def celeba_input(key):
    """Input function for one of CelebA's files (images, attributes, identities, partition)."""

    def _input(wildcards):
        if wildcards.dataset != "celeba":
            return []
        if key == "partition" and DATA["split"]["by"] != "partition":
            return []  # read only for the official split
        path = lookup(dpath=f"data/celeba/{key}", within=config, default=None)
        if path is None and key == "partition":
            raise WorkflowError(
                "data.split.by is partition: data.celeba.partition must name CelebA's "
                "list_eval_partition.txt"
            )
        if path is None:
            return []
        downloadable = (
            Path(path).parent == Path("resources/celeba") and Path(path).name in CELEBA_FILES
        )
        if not Path(path).exists() and not (downloadable and DATA["celeba"]["download"]["enabled"]):
            raise WorkflowError(
                f"data.celeba.{key}: {path} does not exist. Point it at your copy of CelebA "
                "(a folder of JPEGs, the zip or a tar for images), or leave the default path under "
                "resources/celeba/ with data.celeba.download.enabled: true to download it."
            )
        return path

    return _input


def folder_input(key):
    """Input function for a folder source's images or attribute CSV (data.folder)."""

    def _input(wildcards):
        if wildcards.dataset != "folder":
            return []
        path = DATA["folder"][key]
        if path is None and key == "images":
            raise WorkflowError("data.source is folder: set data.folder.images to your images")
        if path is not None and not Path(path).exists():
            raise WorkflowError(f"data.folder.{key}: {path} does not exist")
        return path or []

    return _input


def prepare_params():
    """Everything besides the wildcards that decides the prepared data (so edits rerun prepare)."""
    return {
        "seed": config["seed"],
        "crop_box": DATA["crop_box"],
        "max_images": DATA["max_images"],
        "min_side": DATA["min_side"],
        "max_pixels": DATA["max_pixels"],
        "chunk_size": DATA["chunk_size"],
        "on_missing_attributes": DATA["on_missing_attributes"],
        "split": DATA["split"],
        "n_images": DATA["synthetic"]["n_images"],
        "folder_crop_box": DATA["folder"]["crop_box"],
    }


def summary_tables(wildcards):
    """Input of `experiment_tables`: an experiment's summary tables, by the name of their report page."""
    tables = {
        "samplers": rules.evaluate.output.summary,
        "normality_tests": rules.mnd.output.tests,
        "sigma_shells": rules.mnd.output.shells,
        "pca_eigenvalues": rules.pca.output.table,
        "dominant_components": rules.components.output.dominant,
    }
    if has_attributes(wildcards.exp):
        tables["attributes"] = rules.attributes.output.table
    return {k: v.format(exp=wildcards.exp) for k, v in tables.items()}


_say_which_skip_attributes()
