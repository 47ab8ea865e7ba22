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


def dataset_dir(dataset=None, size=None):
    """results/data/<dataset>_<size>: prepared images are keyed by dataset and size only."""
    return f"results/data/{dataset or DATA['source']}_{size or DATA['size']}"


def prepared_outputs(dataset=None, size=None):
    d = dataset_dir(dataset, size)
    return [f"{d}/images.zarr", f"{d}/attributes.tsv", f"{d}/manifest.json"]


def all_outputs():
    """What `rule all` builds."""
    return prepared_outputs()


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
