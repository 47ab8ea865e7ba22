"""Procedural face images with CelebA-style attributes: the embedded default dataset.

Each face is drawn from a small generative model whose factors are correlated as in real faces
(older men are more often bald or grey, women more often have long hair and lipstick, pale skin
goes with blond hair more often, smiles open the mouth ...). Everything about image ``i`` comes
from ``numpy.random.default_rng([seed, i])``, so an image does not depend on batch size, worker
count or which other images were rendered.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

VERSION = "faces-v1"

#: attribute names, as in CelebA's ``list_attr_celeba.txt``
ATTRIBUTES = (
    "Male",
    "Young",
    "Smiling",
    "Mouth_Slightly_Open",
    "Eyeglasses",
    "Black_Hair",
    "Blond_Hair",
    "Brown_Hair",
    "Gray_Hair",
    "Bald",
    "Bangs",
    "Pale_Skin",
    "Wearing_Lipstick",
    "No_Beard",
)

_HAIR = {
    "black": (28, 24, 24),
    "brown": (96, 60, 34),
    "blond": (218, 182, 110),
    "gray": (168, 166, 164),
    "red": (150, 62, 30),
}
_SKIN_DARK, _SKIN_PALE = np.array([92, 58, 40.0]), np.array([246, 214, 192.0])
_IRIS = [(70, 45, 25), (60, 100, 150), (70, 110, 70), (40, 30, 20)]
SUPERSAMPLE = 2


def sample_factors(rng: np.random.Generator) -> dict:
    """Draw one face's factors; the attributes follow from them."""
    male = rng.random() < 0.42
    young = rng.random() < (0.72 if male else 0.82)
    tone = float(rng.beta(2.2, 2.0))
    bald = rng.random() < ((0.08 if young else 0.35) if male else 0.01)
    if not young and rng.random() < 0.55:
        hair = "gray"
    else:
        p = np.array(
            [
                0.25 + 0.5 * (1 - tone),  # black
                0.45,  # brown
                (0.05 + 0.45 * tone) * (1.0 if not male else 0.35),  # blond
                0.04,  # red
            ]
        )
        hair = ["black", "brown", "blond", "red"][rng.choice(4, p=p / p.sum())]
    smiling = rng.random() < (0.52 if not male else 0.42)
    glasses_p = (0.04 if young else 0.25) * (1.4 if male else 1.0)
    return {
        "male": male,
        "young": young,
        "tone": tone,
        "bald": bald,
        "hair": hair,
        "long_hair": (not bald) and rng.random() < (0.12 if male else 0.85),
        "bangs": (not bald) and rng.random() < (0.1 if male else 0.28),
        "smiling": smiling,
        "mouth_open": rng.random() < (0.75 if smiling else 0.12),
        "glasses": rng.random() < glasses_p,
        "sunglasses": rng.random() < 0.2,
        "lipstick": (not male) and rng.random() < 0.7,
        "beard": male and rng.random() < (0.28 if young else 0.45),
        "roll": float(np.clip(rng.normal(0, 7), -20, 20)),
        "yaw": float(np.clip(rng.normal(0, 0.05), -0.12, 0.12)),
        "scale": float(rng.uniform(0.8, 1.02)),
        "cx": float(0.5 + rng.normal(0, 0.025)),
        "cy": float(0.52 + rng.normal(0, 0.025)),
        "light_dir": float(rng.uniform(0, 2 * math.pi)),
        "light_strength": float(rng.uniform(0.0, 0.35)),
        "brightness": float(rng.uniform(0.8, 1.12)),
        "bg": rng.integers(20, 236, size=(2, 3)),
        "clothes": tuple(int(c) for c in rng.integers(10, 230, size=3)),
        "iris": _IRIS[rng.integers(len(_IRIS))],
        "skin_jitter": rng.normal(0, 6, size=3),
        "hair_jitter": float(rng.uniform(0.8, 1.15)),
        "face_width": float(rng.uniform(0.24, 0.27) + (0.02 if male else 0.0)),
        "mouth_width": float(rng.uniform(0.075, 0.095) + (0.02 if smiling else 0.0)),
        "eye_gap": float(rng.uniform(0.09, 0.11)),
        "brow_tilt": float(rng.normal(0, 0.01)),
        "noise": rng,
    }


def attributes_of(f: dict) -> np.ndarray:
    """+1/-1 attribute vector (order of :data:`ATTRIBUTES`)."""
    hair = None if f["bald"] else f["hair"]
    flags = [
        f["male"],
        f["young"],
        f["smiling"],
        f["mouth_open"],
        f["glasses"],
        hair == "black",
        hair == "blond",
        hair == "brown",
        hair == "gray",
        f["bald"],
        f["bangs"],
        f["tone"] > 0.78,
        f["lipstick"],
        not f["beard"],
    ]
    return np.where(flags, 1, -1).astype(np.int8)


def _c(rgb, k=1.0):
    return tuple(min(255, max(0, int(v * k))) for v in rgb)


_GRADIENTS: dict[int, Image.Image] = {}


def _gradient(w: int) -> Image.Image:
    if w not in _GRADIENTS:
        _GRADIENTS[w] = Image.linear_gradient("L").resize((w, w), Image.Resampling.BILINEAR)
    return _GRADIENTS[w]


class _Painter:
    """Draws one face's parts, back to front, on an RGBA layer (``u``: the face's scale in pixels
    of the supersampled canvas; ``fx``, ``fy``: its centre; ``a``, ``b``: its half-width and
    half-height)."""

    def __init__(self, f: dict, layer: Image.Image, width: int):
        self.f, self.d = f, ImageDraw.Draw(layer)
        self.u = u = f["scale"] * width
        self.fx, self.fy = f["cx"] * width, f["cy"] * width
        self.a, self.b = f["face_width"] * u, 0.34 * u
        self.skin = _c(_SKIN_DARK + (_SKIN_PALE - _SKIN_DARK) * f["tone"] + f["skin_jitter"])
        self.hair = _c(_HAIR[f["hair"]], f["hair_jitter"])
        self.yaw = f["yaw"] * u
        self.ey = self.fy - 0.03 * u  # the eyes' height

    def ell(self, cx, cy, rx, ry, fill, **kw):
        self.d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill, **kw)

    def paint(self) -> None:
        self.body()
        self.top_hair()
        self.eyes()
        self.nose_and_mouth()
        if self.f["glasses"]:
            self.glasses()

    def body(self) -> None:
        """Clothes, neck, long hair behind, ears, the face and a beard."""
        f, d, u, fx, fy, a, b = self.f, self.d, self.u, self.fx, self.fy, self.a, self.b
        skin, hair = self.skin, self.hair
        self.ell(fx, fy + 0.68 * u, 0.52 * u, 0.26 * u, f["clothes"] + (255,))
        if f["long_hair"]:
            self.ell(fx, fy + 0.04 * u, a + 0.1 * u, b + 0.1 * u, hair + (255,))
            d.rectangle((fx - a - 0.1 * u, fy, fx + a + 0.1 * u, fy + 0.5 * u), fill=hair + (255,))
        d.rectangle(
            (fx - 0.1 * u, fy + 0.2 * u, fx + 0.1 * u, fy + 0.52 * u), fill=_c(skin, 0.85) + (255,)
        )
        for side in (-1, 1):
            self.ell(
                fx + side * a * 0.98, fy + 0.01 * u, 0.045 * u, 0.075 * u, _c(skin, 0.92) + (255,)
            )
        self.ell(fx, fy, a, b, skin + (255,))
        if f["beard"]:
            d.chord((fx - a, fy - b, fx + a, fy + b), 20, 160, fill=_c(hair, 0.8) + (235,))

    def top_hair(self) -> None:
        """Hair on top with the forehead below its line and bangs, or a bald man's fringe."""
        f, d, u, fx, fy, a, b = self.f, self.d, self.u, self.fx, self.fy, self.a, self.b
        skin, hair = self.skin, self.hair
        if f["bald"]:
            if f["male"]:  # fringe of hair over the ears
                for side in (-1, 1):
                    self.ell(
                        fx + side * a * 0.92,
                        fy - 0.05 * u,
                        0.04 * u,
                        0.1 * u,
                        _c(hair, 0.9) + (255,),
                    )
            return
        hl = 0.13 if not f["male"] else (0.17 if f["young"] else 0.2)
        d.chord(
            (fx - a - 0.035 * u, fy - b - 0.07 * u, fx + a + 0.035 * u, fy + b * 0.6),
            180,
            360,
            fill=hair + (255,),
        )
        for x0, x1 in (
            (fx - a - 0.035 * u, fx - a + 0.03 * u),
            (fx + a - 0.03 * u, fx + a + 0.035 * u),
        ):
            d.rectangle((x0, fy - 0.25 * b, x1, fy + 0.05 * u), fill=hair + (255,))
        # forehead shows between the sides below the hairline
        self.ell(fx, fy - hl * u + 0.2 * u, a * 0.82, 0.2 * u, skin + (255,))
        self.ell(fx, fy + 0.04 * u, a * 0.93, b * 0.82, skin + (255,))
        if f["bangs"]:
            d.chord(
                (fx - a * 0.95, fy - b * 1.05, fx + a * 0.95, fy - 0.02 * u),
                180,
                360,
                fill=_c(hair, 0.95) + (255,),
            )

    def eyes(self) -> None:
        f, u, ey = self.f, self.u, self.ey
        for side in (-1, 1):
            ex = self.fx + side * f["eye_gap"] * u + self.yaw
            self.ell(ex, ey, 0.05 * u, 0.026 * u, (245, 245, 240, 255))
            self.ell(ex + self.yaw * 0.2, ey, 0.022 * u, 0.022 * u, f["iris"] + (255,))
            self.ell(ex + self.yaw * 0.2, ey, 0.009 * u, 0.009 * u, (10, 10, 10, 255))
            brow = _c(self.hair if f["hair"] != "gray" or f["bald"] else (90, 80, 70), 0.7)
            by, tilt = ey - 0.055 * u, side * f["brow_tilt"] * u
            self.d.line(
                (ex - 0.05 * u, by + tilt, ex + 0.05 * u, by - tilt),
                fill=brow + (255,),
                width=max(1, int((0.02 if f["male"] else 0.012) * u)),
            )

    def nose_and_mouth(self) -> None:
        f, d, u, fx, fy, yaw = self.f, self.d, self.u, self.fx, self.fy, self.yaw
        nx, ny = fx + yaw * 1.3, fy + 0.06 * u
        d.polygon(
            [(nx, ny - 0.07 * u), (nx - 0.028 * u, ny + 0.01 * u), (nx + 0.028 * u, ny + 0.01 * u)],
            fill=_c(self.skin, 0.82) + (255,),
        )
        mx, my, mw = fx + yaw, fy + 0.16 * u, f["mouth_width"] * u
        lips = (
            (190, 30, 55) if f["lipstick"] else _c(np.array(self.skin) * np.array([0.95, 0.6, 0.6]))
        )
        if f["smiling"]:
            d.chord((mx - mw, my - 0.045 * u, mx + mw, my + 0.045 * u), 0, 180, fill=lips + (255,))
            if f["mouth_open"]:
                d.chord(
                    (mx - mw * 0.85, my - 0.03 * u, mx + mw * 0.85, my + 0.032 * u),
                    0,
                    180,
                    fill=(70, 15, 20, 255),
                )
                d.rectangle(
                    (mx - mw * 0.7, my, mx + mw * 0.7, my + 0.012 * u), fill=(240, 240, 235, 255)
                )
        else:
            self.ell(mx, my, mw, 0.016 * u, lips + (255,))
            if f["mouth_open"]:
                self.ell(mx, my, mw * 0.6, 0.009 * u, (70, 15, 20, 255))

    def glasses(self) -> None:
        f, u, ey, yaw = self.f, self.u, self.ey, self.yaw
        frame, r, width = (20, 20, 25, 255), 0.06 * u, max(1, int(0.012 * u))
        for side in (-1, 1):
            ex = self.fx + side * f["eye_gap"] * u + yaw
            lens = (15, 15, 20, 235) if f["sunglasses"] else None
            self.ell(ex, ey, r, r * 0.8, lens, outline=frame, width=width)
        gap = f["eye_gap"] * u
        self.d.line(
            (self.fx + yaw - gap + r, ey, self.fx + yaw + gap - r, ey), fill=frame, width=width
        )


def render_face(f: dict, size: int) -> np.ndarray:
    """One face as uint8 [size, size, 3]: drawn supersampled (:class:`_Painter`), rolled about its
    centre, reduced, lit and given a little sensor noise."""
    W = size * SUPERSAMPLE
    # background: a vertical gradient between two colours
    c0, c1 = (tuple(int(v) for v in c) for c in f["bg"])
    canvas = Image.composite(
        Image.new("RGB", (W, W), c1), Image.new("RGB", (W, W), c0), _gradient(W)
    )
    layer = Image.new("RGBA", (W, W), (0, 0, 0, 0))
    painter = _Painter(f, layer, W)
    painter.paint()
    # roll the face about its centre: only its bounding box is resampled
    if layer.getbbox() is not None:
        fx, fy, r = painter.fx, painter.fy, 0.75 * painter.u
        box = tuple(
            int(v) for v in (max(0, fx - r), max(0, fy - r), min(W, fx + r), min(W, fy + r))
        )
        part = layer.crop(box).rotate(
            f["roll"], resample=Image.Resampling.NEAREST, center=(fx - box[0], fy - box[1])
        )
        canvas.paste(part, box[:2], part)
    small = np.asarray(canvas.reduce(SUPERSAMPLE), dtype=np.float32)
    # directional light and overall brightness, then a little sensor noise
    g = np.linspace(-1, 1, size, dtype=np.float32)
    shade = f["brightness"] + f["light_strength"] * (
        math.cos(f["light_dir"]) * g[None, :] + math.sin(f["light_dir"]) * g[:, None]
    )
    img = small * shade[:, :, None] + 2.5 * f["noise"].standard_normal(
        small.shape, dtype=np.float32
    )
    return np.clip(img, 0, 255).astype(np.uint8)


def render_faces(indices: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces number ``indices`` of the dataset with ``seed``: (uint8 [n, size, size, 3], int8 [n, A])."""
    images = np.empty((len(indices), size, size, 3), dtype=np.uint8)
    attrs = np.empty((len(indices), len(ATTRIBUTES)), dtype=np.int8)
    for k, i in enumerate(indices):
        f = sample_factors(np.random.default_rng([seed, int(i)]))
        images[k] = render_face(f, size)
        attrs[k] = attributes_of(f)
    return images, attrs
