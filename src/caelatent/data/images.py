"""One image file's bytes -> a cropped, resized uint8 RGB array, or the reason it cannot be used."""

from __future__ import annotations

import io
import warnings
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..files.celeba import SkipImage

#: CelebA's aligned frames are 178 x 218; crop boxes are given in that frame and scaled to others.
REFERENCE_FRAME = (178, 218)
#: the largest centred square of the reference frame
DEFAULT_CROP_BOX = (0, 20, 178, 198)


_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
#: the smallest side kept, and the most pixels decoded, unless data.min_side / data.max_pixels say
DEFAULT_MIN_SIDE = 32
DEFAULT_MAX_PIXELS = 40_000_000


def scaled_box(width: int, height: int, box: Sequence[float]) -> tuple[float, float, float, float]:
    """Scale a crop box given in the 178x218 reference frame to an image of another size."""
    sx, sy = width / REFERENCE_FRAME[0], height / REFERENCE_FRAME[1]
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def pixel_box(width: int, height: int, box) -> tuple[float, float, float, float]:
    """The crop of an image of ``width`` x ``height`` in pixels. ``box`` is a box in CelebA's
    178x218 reference frame (``[l, t, r, b]`` or ``("celeba", [l, t, r, b])``), or
    ``("fraction", [l, t, r, b])`` in fractions of the image's width and height, or
    ``("fraction", None)``: the largest square about the centre."""
    frame, b = box if isinstance(box[0], str) else ("celeba", box)
    if frame == "celeba":
        return scaled_box(width, height, b)
    if b is None:
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        return (left, top, left + side, top + side)
    return (b[0] * width, b[1] * height, b[2] * width, b[3] * height)


def decode_crop_resize(
    data: bytes,
    size: int,
    box: Sequence[float],
    *,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[np.ndarray, str | None]:
    """JPEG (or other image) bytes -> uint8 [size, size, 3] and the converted-from mode, if any,
    cropped to ``box`` (:func:`pixel_box`) and resized.

    The size is read from the header first: an image with a side under ``min_side`` or more than
    ``max_pixels`` pixels is never decoded. Raises :class:`SkipImage` with reason ``not_image``,
    ``corrupt``, ``too_small`` or ``too_large``.
    """
    try:
        with warnings.catch_warnings():  # Pillow's own bomb check warns; ours decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        raise SkipImage("too_large", f"{err} (data.max_pixels={max_pixels})") from None
    except UnidentifiedImageError:
        if data.startswith(_IMAGE_SIGNATURES):
            raise SkipImage(
                "corrupt", f"{len(data)} bytes with an image signature that do not decode"
            ) from None
        raise SkipImage(
            "not_image", f"{len(data)} bytes that are no image (start: {data[:12]!r})"
        ) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise SkipImage("corrupt", str(err)) from None
    width, height = im.size
    if width * height > max_pixels:
        raise SkipImage(
            "too_large",
            f"{width}x{height} = {width * height} pixels > data.max_pixels={max_pixels}",
        )
    if min(width, height) < min_side:
        raise SkipImage("too_small", f"{width}x{height}: a side under data.min_side={min_side}")
    try:
        im.load()
    except (OSError, SyntaxError, ValueError) as err:
        raise SkipImage("corrupt", str(err)) from None
    converted = None
    if im.mode != "RGB":
        converted = im.mode
        im = im.convert("RGB")
    out = im.resize(
        (size, size), Image.Resampling.BILINEAR, box=pixel_box(im.width, im.height, box)
    )
    return np.asarray(out, dtype=np.uint8), converted


def check_box(box: Sequence[float]) -> None:
    if len(box) != 4 or not (
        0 <= box[0] < box[2] <= REFERENCE_FRAME[0] and 0 <= box[1] < box[3] <= REFERENCE_FRAME[1]
    ):
        raise ValueError(
            f"data.crop_box={list(box)}: expected [left, top, right, bottom] inside the 178x218 frame"
        )
