"""Config validation and the path/param helpers every rule uses (no logic elsewhere)."""

import copy
from pathlib import Path

from snakemake.utils import validate

SCHEMA = "../../config/schema.yaml"
validate(config, schema=SCHEMA)

DATA = config["data"]
CELEBA_FILES = ("img_align_celeba.zip", "list_attr_celeba.txt", "identity_CelebA.txt")


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
        for key in set(override.get("data", {})) - {"source", "size"}:
            raise WorkflowError(
                f"experiments.{name}.data.{key}: an experiment may change data.source and data.size only "
                "(prepared data are shared by dataset and size); set it in the top-level data block"
            )
        merged = _merged(base, override)
        try:
            validate(merged, schema=SCHEMA)
        except WorkflowError as err:
            raise WorkflowError(f"experiments.{name}: {err}") from None
        out[name] = merged
    for name in config["run"]:
        if name not in out:
            raise WorkflowError(
                f"run: experiment {name!r} is not defined under experiments ({', '.join(out)})"
            )
    return out


EXPERIMENTS = _experiments()


def exp_param(dpath):
    """A param read from the experiment's own config (wildcard exp)."""
    return lambda wc: lookup(dpath=dpath, within=EXPERIMENTS[wc.exp])


wildcard_constraints:
    dataset="synthetic|celeba",
    size="64|96|128",
    file="|".join(CELEBA_FILES).replace(".", r"\."),
    exp="|".join(EXPERIMENTS),


def dataset_dir(exp):
    """results/data/<dataset>_<size> of an experiment: prepared images are keyed by dataset and size only."""
    data = EXPERIMENTS[exp]["data"]
    return f"results/data/{data['source']}_{data['size']}"


def images_of(wildcards):
    return f"{dataset_dir(wildcards.exp)}/images.zarr"


def prepared_outputs(exp):
    d = dataset_dir(exp)
    # every output of prepare: an output nothing requests has no say in reruns, and one without
    # provenance (never written) stops Snakemake from comparing prepare's params at all
    return [
        f"{d}/images.zarr",
        f"{d}/attributes.tsv",
        f"{d}/manifest.json",
        f"{d}/list_attr.txt",
    ]


def experiment_outputs(exp):
    return (
        prepared_outputs(exp)
        + [
            f"results/{exp}/model/encoder.keras",
            f"results/{exp}/figures/train_loss_curve.png",
            f"results/{exp}/figures/holdout_reconstructions.png",
            f"results/{exp}/latents.zarr",
            f"results/{exp}/stats/components.tsv",
            f"results/{exp}/figures/components_histograms_grid.png",
            f"results/{exp}/figures/correlation_matrix.png",
            f"results/{exp}/stats/radius.json",
            f"results/{exp}/stats/correlated_pairs.tsv",
            f"results/{exp}/stats/pca.json",
            f"results/{exp}/figures/pca_spectrum.png",
            f"results/{exp}/stats/mnd_fit.json",
            f"results/{exp}/stats/origin.json",
            f"results/{exp}/stats/summary.tsv",
            f"results/{exp}/figures/innermost_maps.png",
        ]
        + (attribute_outputs(exp) if has_attributes(exp) else [])
    )


def has_attributes(exp):
    """Synthetic faces always carry attributes; CelebA when an attribute file is configured."""
    data = EXPERIMENTS[exp]["data"]
    return data["source"] == "synthetic" or data["celeba"]["attributes"] is not None


def attribute_outputs(exp):
    return [
        f"results/{exp}/stats/attributes.tsv",
        f"results/{exp}/figures/attributes_pc_projection.png",
        f"results/{exp}/stats/arithmetic.tsv",
    ]


def all_outputs():
    """Targets of `all`: every experiment listed under `run`, and their comparison."""
    out = [f for exp in config["run"] for f in experiment_outputs(exp)]
    return out + ["results/comparison/experiments.tsv"]


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
    return {**{k: e["train"][k] for k in keys}, "seed": e["seed"]}


def fit_options(wildcards):
    """caelatent.train.FitOptions of an experiment (params: an edit reruns train)."""
    t = EXPERIMENTS[wildcards.exp]["train"]
    keys = (
        "jit_compile",
        "steps_per_execution",
        "precision",
        "in_memory_mb",
        "readers",
    )
    return {**{k: t[k] for k in keys}, "window": t["shuffle_window"]}


def device_params(wildcards):
    """Backend, GPU memory share and batch size of every rule that runs a model."""
    t = EXPERIMENTS[wildcards.exp]["train"]
    return {
        "backend": t["backend"],
        "gpu_memory_fraction": t["gpu_memory_fraction"],
        "predict_batch_size": t["predict_batch_size"],
    }


def gpus(wildcards):
    """The `gpu` resource of every rule that runs a model (SLURM's --gpus; locally, --resources gpu=N)."""
    return EXPERIMENTS[wildcards.exp]["train"]["gpus"]


def compared(name):
    """Input function of `compare`: one file per experiment listed under `run`."""
    return lambda wc: [f"results/{exp}/{name}" for exp in config["run"]]


def celeba_input(key):
    """Input function for one of CelebA's files (images, attributes, identities)."""

    def _input(wildcards):
        if wildcards.dataset != "celeba":
            return []
        path = lookup(dpath=f"data/celeba/{key}", within=config, default=None)
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


def prepare_params():
    """Everything besides the wildcards that decides the prepared data (so edits rerun prepare)."""
    return {
        "seed": config["seed"],
        "crop_box": DATA["crop_box"],
        "max_images": DATA["max_images"],
        "chunk_size": DATA["chunk_size"],
        "on_missing_attributes": DATA["on_missing_attributes"],
        "split": DATA["split"],
        "n_images": DATA["synthetic"]["n_images"],
    }
