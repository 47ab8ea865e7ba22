"""The I/O layer: tables (TSV, JSON, NPZ, HTML) and the Zarr stores; only this layer and the stage runners open paths."""
