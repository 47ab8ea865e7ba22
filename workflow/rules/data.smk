"""Data stage: download CelebA's files (when asked) and prepare images.zarr."""


rule download_celeba:
    output:
        "resources/celeba/{file}",
    log:
        "logs/download_celeba/{file}.log",
    conda:
        "../../envs/data.yaml"
    params:
        library=library("download"),
        mirrors=DATA["celeba"]["download"]["mirrors"],
        published=DATA["celeba"]["download"]["published"],
        verify=DATA["celeba"]["download"]["verify"],
        timeout=DATA["celeba"]["download"]["timeout"],
    script:
        "../scripts/download_celeba.py"


rule prepare:
    input:
        images=celeba_input("images"),
        attributes=celeba_input("attributes"),
        identities=celeba_input("identities"),
    output:
        images=directory("results/data/{dataset}_{size}/images.zarr"),
        attributes="results/data/{dataset}_{size}/attributes.tsv",
        manifest="results/data/{dataset}_{size}/manifest.json",
        list_attr="results/data/{dataset}_{size}/list_attr.txt",
    log:
        "logs/prepare/{dataset}_{size}.log",
    benchmark:
        "benchmarks/results/prepare/{dataset}_{size}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: config["threads"]["prepare"]
    resources:
        mem_mb=4000,
    params:
        library=library("prepare"),
        prepare=prepare_params(),
    script:
        "../scripts/prepare.py"
