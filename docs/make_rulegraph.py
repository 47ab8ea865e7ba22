"""Draw the workflow's rule graph (docs/rulegraph.png) and list its edges (docs/rulegraph.txt).

Usage: python docs/make_rulegraph.py [--check]

Runs ``snakemake --rulegraph`` on the demo config (the seed config has the same rules, CelebA's
download aside), lays the rules out in layers by their longest path from the data, and draws them
with matplotlib (no Graphviz needed). Plot rules are drawn apart from the rules that compute.
``--check`` only compares docs/rulegraph.txt with the workflow (tests/test_repo.py runs it).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT, PICTURE = ROOT / "docs" / "rulegraph.txt", ROOT / "docs" / "rulegraph.png"


def rule_graph(configfile: str = "config/demo.yaml") -> tuple[list[str], list[tuple[str, str]]]:
    """Rule names and (upstream, downstream) edges, as Snakemake reports them."""
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--rulegraph", "--configfile", configfile, "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', out, re.M))
    edges = [(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", out, re.M)]
    return sorted(names.values()), sorted(set(edges))


def as_text(edges) -> str:
    return "".join(f"{a} -> {b}\n" for a, b in edges)


def layers(names, edges) -> dict[str, int]:
    """Longest path from a rule without inputs: each rule one layer below all it reads."""
    depth = {n: 0 for n in names}
    for _ in names:
        for a, b in edges:
            depth[b] = max(depth[b], depth[a] + 1)
    return depth


#: rules that read every result: drawn as a note, not as a hundred arrows
COLLECTORS = ("all", "provenance")


def draw(names, edges):
    from matplotlib.figure import Figure

    names = [n for n in names if n not in COLLECTORS]
    edges = [(a, b) for a, b in edges if a in names and b in names]
    depth = layers(names, edges)
    rows: dict[int, list[str]] = {}
    for n in sorted(names):
        rows.setdefault(depth[n], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for d in sorted(rows):  # order each layer by the mean position of what it reads
        parents = {n: [pos[a][0] for a, b in edges if b == n and a in pos] for n in rows[d]}
        rows[d].sort(key=lambda n: (sum(parents[n]) / len(parents[n]) if parents[n] else 0, n))
        for k, n in enumerate(rows[d]):
            pos[n] = (k - (len(rows[d]) - 1) / 2, -d)
    width = max(len(r) for r in rows.values())
    fig = Figure(figsize=(max(8, 1.9 * width), 0.9 * len(rows) + 1))
    ax = fig.add_subplot()
    for a, b in edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate(
            "",
            (x1, y1 + 0.18),
            (x0, y0 - 0.18),
            arrowprops=dict(arrowstyle="->", color="0.6", lw=0.8, shrinkA=0, shrinkB=0),
        )
    for n, (x, y) in pos.items():
        plot = n.endswith("_plots")
        ax.text(
            x,
            y,
            n,
            ha="center",
            va="center",
            fontsize=8,
            bbox=dict(
                boxstyle="round,pad=0.3",
                fc="#fde9c9" if plot else "#d6e6f5",
                ec="#c77f00" if plot else "#4a7db3",
            ),
        )
    ax.set_xlim(-width / 2 - 0.2, width / 2 + 0.2)
    ax.set_ylim(-max(rows) - 0.6, 0.6)
    ax.axis("off")
    ax.set_title(
        "Rules of the workflow (blue: compute and write tables; orange: draw figures);\n"
        "provenance and all read every output",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare docs/rulegraph.txt")
    args = ap.parse_args()
    names, edges = rule_graph()
    text = as_text(edges)
    if args.check:
        if not TEXT.exists() or TEXT.read_text() != text:
            sys.exit(f"{TEXT} is out of date: run python docs/make_rulegraph.py")
        return
    TEXT.write_text(text)
    draw(names, edges).savefig(PICTURE, dpi=90)
    print(f"wrote {TEXT} and {PICTURE} ({len(names)} rules, {len(edges)} edges)")


if __name__ == "__main__":
    main()
