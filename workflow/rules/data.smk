"""Data stage: download CelebA's files (when asked) and prepare images.zarr."""


rule download_celeba:
    output:
        path="resources/celeba/{file}",
    log:
        "logs/download_celeba/{file}.log",
    benchmark:
        "benchmarks/results/download_celeba/{file}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=memory_mb("download_celeba"),
    params:
        library=library("data.download_celeba"),
        file=lambda wc: wc.file,
        mirrors=DATA["celeba"]["download"]["mirrors"],
        published=DATA["celeba"]["download"]["published"],
        verify=DATA["celeba"]["download"]["verify"],
        timeout=DATA["celeba"]["download"]["timeout"],
    script:
        "../scripts/download_celeba.py"


rule prepare:
    input:
        celeba_images=celeba_input("images"),
        celeba_attributes=celeba_input("attributes"),
        celeba_identities=celeba_input("identities"),
        celeba_partition=celeba_input("partition"),
        folder_images=folder_input("images"),
        folder_attributes=folder_input("attributes"),
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
        mem_mb=memory_mb("prepare"),
        runtime=120,
    params:
        library=library("data.prepare"),
        settings=prepare_params(),
        dataset=lambda wc: wc.dataset,
        size=lambda wc: int(wc.size),
    script:
        "../scripts/prepare.py"
