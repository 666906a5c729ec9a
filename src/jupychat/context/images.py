"""Images for models that accept them: type sniffing and downscaling to a size cap.

Design note: providers limit image size (Anthropic resizes anything over ~1,568 px on the
long side; OpenAI tiles at 512 px), and every image costs tokens, so a figure is sent at
most ``max_side`` pixels on its long side and ``max_bytes`` long. An image already within
both caps is returned unchanged with no decoding. Otherwise Pillow (imported lazily;
matplotlib depends on it) resizes it and re-encodes as optimised PNG, then as JPEG at
falling quality (transparency flattened onto white), then smaller, until it fits; with
no Pillow, or an image Pillow cannot read, the answer is None and the caller sends the
text account alone. Pillow's decompression-bomb limit is kept.
"""

from __future__ import annotations

import io
import logging
import warnings

from .celldata import image_size

__all__ = ["downscale_png", "image_tokens", "media_type_of"]

log = logging.getLogger(__name__)


def media_type_of(data: bytes) -> str | None:
    """``"image/png"``, ``"image/jpeg"``, ``"image/gif"``, ``"image/webp"`` or None."""
    if not isinstance(data, (bytes, bytearray)):
        return None
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_tokens(data: bytes) -> int:
    """A rough token cost of sending an image (about width × height / 750, capped)."""
    dims = image_size(data) or (512, 512)
    return max(85, min(1_600, dims[0] * dims[1] // 750))


def downscale_png(data: bytes, max_side: int = 1_024, max_bytes: int = 1_000_000) -> bytes | None:
    """Image bytes within ``max_side`` pixels and ``max_bytes``, or None if that fails.

    Parameters
    ----------
    data:
        PNG (or JPEG) bytes, e.g. a matplotlib figure as shown in the notebook.
    max_side:
        Longest side in pixels of the result.
    max_bytes:
        Largest size in bytes of the result.

    Returns
    -------
    bytes or None
        The input unchanged when it already fits; otherwise a resized PNG, or a JPEG when
        no PNG fits (see :func:`media_type_of`); None without Pillow or when nothing fits.
    """
    kind = media_type_of(data)
    if kind not in ("image/png", "image/jpeg") or max_side < 1 or max_bytes < 1:
        return None
    dims = image_size(data)
    if dims is not None and min(dims) > 0 and max(dims) <= max_side and len(data) <= max_bytes:
        return bytes(data)
    try:
        from PIL import Image
    except ImportError:
        log.debug("Pillow is not installed: cannot downscale a %d-byte image", len(data))
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return _fit(img, max_side, max_bytes)
    except Exception as exc:  # unreadable, a decompression bomb, an encoder error
        log.debug("cannot downscale image: %s", exc)
        return None


def _fit(img: object, max_side: int, max_bytes: int) -> bytes | None:
    from PIL import Image

    assert isinstance(img, Image.Image)
    side = max_side
    while side >= 64:
        work = img.copy()
        work.thumbnail((side, side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        work.save(buf, format="PNG", optimize=True)
        if buf.tell() <= max_bytes:
            return buf.getvalue()
        flat = work
        if work.mode in ("RGBA", "LA", "P"):
            rgba = work.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
        elif work.mode != "RGB":
            flat = work.convert("RGB")
        for quality in (85, 70, 50):
            buf = io.BytesIO()
            flat.save(buf, format="JPEG", quality=quality, optimize=True)
            if buf.tell() <= max_bytes:
                return buf.getvalue()
        side = int(side * 0.7)
    return None
