"""Reading, generating and preparing the images: CelebA (download, files), synthetic faces, an image folder, and the prepared Zarr store (stage data)."""
