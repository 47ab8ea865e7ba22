"""Figure of the comparison across experiments."""

from __future__ import annotations

import numpy as np

from . import subplots


def experiments(spectra: dict, faces: dict, names: list[str]):
    """Eigenvalue spectra of every experiment, and the face rate of each sampler per experiment."""
    fig, (a1, a2) = subplots(1, 2, (13, 4.8), gridspec_kw={"width_ratios": [1, 1.6]})
    for name, ex in spectra.items():
        a1.semilogy(np.arange(1, len(ex) + 1), ex, label=name)
    a1.set_xlabel("principal component")
    a1.set_ylabel("explained variance ratio (log scale)")
    a1.set_title("Eigenvalue spectra")
    a1.legend(fontsize=8)
    labels = list(faces)
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        a2.bar(x + k * w, [faces[lab].get(name, np.nan) for lab in labels], w, label=name)
    a2.set_xticks(x + w * (len(names) - 1) / 2, labels, rotation=60, ha="right", fontsize=7)
    a2.set_ylabel("MTCNN face rate")
    a2.set_ylim(0, 1.05)
    a2.set_title("Face rate per sampler and experiment")
    a2.legend(fontsize=8)
    return fig
