"""Config validation and the path/param helpers every rule uses (no logic elsewhere)."""

from pathlib import Path

from snakemake.utils import validate


validate(config, schema="../../config/schema.yaml")

DATA = config["data"]
CELEBA_FILES = ("img_align_celeba.zip", "list_attr_celeba.txt", "identity_CelebA.txt")


wildcard_constraints:
    dataset="synthetic|celeba",
    size="64|96|128",
    file="|".join(CELEBA_FILES).replace(".", r"\."),
    exp=config["name"],


def dataset_dir(dataset=None, size=None):
    """results/data/<dataset>_<size>: prepared images are keyed by dataset and size only."""
    return f"results/data/{dataset or DATA['source']}_{size or DATA['size']}"


def prepared_outputs(dataset=None, size=None):
    d = dataset_dir(dataset, size)
    return [f"{d}/images.zarr", f"{d}/attributes.tsv", f"{d}/manifest.json"]


def experiment_outputs(exp=None):
    exp = exp or config["name"]
    return [
        f"results/{exp}/model/encoder.keras",
        f"results/{exp}/figures/train_loss_curve.png",
        f"results/{exp}/figures/holdout_reconstructions.png",
        f"results/{exp}/latents.zarr",
        f"results/{exp}/stats/components.tsv",
        f"results/{exp}/stats/radius.json",
        f"results/{exp}/stats/correlated_pairs.tsv",
        f"results/{exp}/stats/pca.json",
        f"results/{exp}/stats/mnd_fit.json",
        f"results/{exp}/stats/origin.json",
        f"results/{exp}/stats/summary.tsv",
    ]


def all_outputs():
    """What `rule all` builds."""
    return prepared_outputs() + experiment_outputs()


def model_params():
    return {**config["model"], "image_size": DATA["size"]}


def train_params():
    keys = ("backend", "loss", "learning_rate", "batch_size", "epochs", "max_batches_per_epoch")
    return {**{k: config["train"][k] for k in keys}, "seed": config["seed"]}


def celeba_input(key):
    """Input function for one of CelebA's files (images, attributes, identities)."""

    def _input(wildcards):
        if wildcards.dataset != "celeba":
            return []
        path = lookup(dpath=f"data/celeba/{key}", within=config, default=None)
        if path is None:
            return []
        downloadable = Path(path).parent == Path("resources/celeba") and Path(path).name in CELEBA_FILES
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
