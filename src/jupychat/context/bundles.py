"""One displayed MIME bundle as a recorded :class:`~jupychat.context.celldata.Output`.

Design note: a bundle (what ``display()`` or ``Out[n]`` sends to the front end) is reduced
to what a model can use: the best text form (Markdown as is; HTML reduced to text when
there is no real text/plain, e.g. ``HTML(...)`` whose text/plain is a placeholder;
text/plain; LaTeX source), PNG or JPEG bytes (base64 decoded; a single image larger than
``image_cap`` is dropped with a note), the text labels of an SVG, and a text account of a
Vega-Lite or Plotly spec. Everything text is cut to ``text_chars`` (head and tail) and
stripped of terminal escapes before anything else is done with it.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import Any

from ._fmt import short
from ._specs import describe_plotly, describe_vegalite
from .celldata import Output, head_tail, html_to_text, strip_ansi

__all__ = ["PLACEHOLDER", "bundle_output"]

PLACEHOLDER = re.compile(r"^<[\w.]+(?: object| at 0x[0-9a-f]+)[^>]*>$", re.IGNORECASE)
_SVG_TEXT = re.compile(r"<(?:text|title)\b[^>]*>(.*?)</(?:text|title)>", re.DOTALL | re.I)


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return binascii.a2b_base64(value)
        except (binascii.Error, ValueError):
            return None
    return None


def _text_of(data: Mapping[str, Any]) -> str:
    plain = data.get("text/plain")
    plain = plain if isinstance(plain, str) else None
    if isinstance(data.get("text/markdown"), str):
        return str(data["text/markdown"])
    if isinstance(data.get("text/html"), str) and (not plain or PLACEHOLDER.match(plain.strip())):
        return html_to_text(data["text/html"])
    if plain is not None:
        return plain
    if isinstance(data.get("text/latex"), str):
        return str(data["text/latex"])
    return ""


def bundle_output(
    kind: Any,
    data: Mapping[str, Any],
    *,
    text_chars: int = 8_000,
    image_cap: int = 1_000_000,
    summary: str = "",
    type_name: str = "",
    figure: str | None = None,
    display_id: str | None = None,
) -> Output:
    """The :class:`Output` for one MIME bundle.

    Parameters
    ----------
    kind:
        ``"result"``, ``"display"`` or ``"error"``.
    data:
        The MIME bundle (``{"text/plain": ..., "image/png": ...}``).
    text_chars:
        Characters of text kept (head and tail).
    image_cap:
        Largest image kept, in bytes.
    summary, type_name, figure, display_id:
        What the caller knows beyond the bundle (a safe preview of the value, the
        displayed object's type, a figure account from the live object, the display id).
    """
    mime = tuple(str(k) for k in list(data)[:12])
    text = head_tail(strip_ansi(head_tail(_text_of(data), text_chars * 2)), text_chars)
    note = ""
    for key, value in data.items():
        key = str(key)
        if key.startswith("application/vnd.vegalite.") and key.endswith("+json"):
            figure = figure or describe_vegalite(value)
        elif key == "application/vnd.plotly.v1+json":
            figure = figure or describe_plotly(value)
    image = image_type = None
    for key in ("image/png", "image/jpeg"):
        if key in data:
            image = _as_bytes(data[key])
            image_type = key if image else None
            if image is None:
                note = f"{key} data could not be decoded"
            break
    labels: list[str] = []
    if image is None and isinstance(data.get("image/svg+xml"), str):
        svg = data["image/svg+xml"]
        labels = [html_to_text(t) for t in _SVG_TEXT.findall(svg[:500_000])]
        labels = [t for t in labels if t][:40]
        note = f"SVG image ({len(svg):,} characters; not kept)"
    if image is not None and len(image) > image_cap:
        note = f"{image_type} of {len(image):,} bytes not kept (over the per-cell cap)"
        image = image_type = None
    if not summary:
        summary = (
            short(type_name, 60)
            if type_name
            else (
                "widget"
                if "application/vnd.jupyter.widget-view+json" in data
                else next((m for m in mime if m != "text/plain"), "text")
            )
        )
    visual = figure is not None or image is not None or any(m.startswith("image/") for m in mime)
    if visual and (text.lstrip().startswith("<Figure size") or PLACEHOLDER.match(text.strip())):
        text = ""  # the text/plain of a figure says nothing the account does not
    if labels:
        svg_text = "SVG text: " + short(" | ".join(labels), text_chars)
        text = f"{text}\n{svg_text}" if text else svg_text
    return Output(
        kind=kind,
        mime=mime,
        text=text,
        summary=summary,
        type_name=type_name,
        figure=figure,
        image=image,
        image_type=image_type,
        note=note,
        display_id=display_id,
    )
