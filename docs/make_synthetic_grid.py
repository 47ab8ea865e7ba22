"""Draw the grid of synthetic faces with their attributes: python docs/make_synthetic_grid.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from caelatent.data import synthetic  # noqa: E402

SHOWN = ("Male", "Young", "Smiling", "Eyeglasses", "Blond_Hair", "Black_Hair", "Gray_Hair", "Bald")
images, attrs = synthetic.render_faces(np.arange(24), 96, seed=7)
fig, axes = plt.subplots(3, 8, figsize=(13, 6.2))
for ax, img, a in zip(axes.flat, images, attrs):
    ax.imshow(img)
    on = [
        n.replace("_Hair", " hair").replace("_", " ")
        for n, v in zip(synthetic.ATTRIBUTES, a)
        if v > 0 and n in SHOWN
    ]
    ax.set_title("\n".join([", ".join(on[:2]), ", ".join(on[2:4])]), fontsize=7)
    ax.axis("off")
fig.suptitle(
    "Synthetic faces (seed 7, 96x96) with some of their CelebA-style attributes", fontsize=10
)
fig.tight_layout()
out = Path(__file__).with_name("synthetic_faces.png")
fig.savefig(out, dpi=80)
print(out)
