"""Reading the header of a GGUF model file, in Python, before llama.cpp sees the file.

Design note: llama.cpp aborts or misbehaves on some broken files, and a file that is not
GGUF, is truncated, or declares an impossible size should be a clear one-line error, not
a crash. :func:`read_gguf` reads the magic, the version, every metadata key (keeping
scalars and short numeric arrays, skipping long ones such as the vocabulary) and the
tensor table, and checks that the tensor data fits in the file. :class:`GGUFInfo` then
answers what loading needs: the trained context length and the KV-cache bytes per token
(to refuse an ``n_ctx`` that cannot fit in memory before allocating it).

Format: little-endian; ``GGUF``, ``u32`` version, ``u64`` tensor count, ``u64`` metadata
count; each key a ``u64``-length string, a ``u32`` value type and the value (scalars,
strings, or typed arrays); each tensor a name, ``u32`` dimension count, ``u64`` dims, a
``u32`` type and a ``u64`` offset into the data section, which starts at the next
multiple of ``general.alignment`` (32 by default).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from jupychat.errors import ProviderError

__all__ = ["GGUFInfo", "read_gguf"]

_GGUF_MAGIC = b"GGUF"
_SCALARS: dict[int, struct.Struct] = {
    0: struct.Struct("<B"),
    1: struct.Struct("<b"),
    2: struct.Struct("<H"),
    3: struct.Struct("<h"),
    4: struct.Struct("<I"),
    5: struct.Struct("<i"),
    6: struct.Struct("<f"),
    7: struct.Struct("<?"),
    10: struct.Struct("<Q"),
    11: struct.Struct("<q"),
    12: struct.Struct("<d"),
}
_STRING, _ARRAY = 8, 9
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_MAX_COUNT = 1 << 28  # no real model has more keys, tensors or array items than this
_MAX_STRING = 1 << 26
_KEEP_ARRAY = 4096  # numeric arrays up to this long are kept (per-layer head counts)


class _BadGGUF(Exception):
    """The file is not a GGUF file llama.cpp could load (message says why)."""


@dataclass(frozen=True)
class GGUFInfo:
    """What the header of a GGUF file says (scalar metadata and short numeric arrays).

    Attributes
    ----------
    version:
        The GGUF format version (2 and 3 are current).
    tensor_count:
        How many tensors the file declares.
    metadata:
        Key/value metadata; long arrays (the tokenizer's vocabulary) are left out.
    """

    version: int
    tensor_count: int
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture") or "")

    def _arch(self, key: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def context_length(self) -> int | None:
        """The context the model was trained with, when the file says."""
        value = self._arch("context_length")
        return int(value) if isinstance(value, int) and value > 0 else None

    def kv_bytes_per_token(self) -> int | None:
        """Bytes of f16 KV cache per token of context, when the header has what it takes."""
        layers = self._arch("block_count")
        heads = self._arch("attention.head_count")
        kv_heads = self._arch("attention.head_count_kv")
        width = self._arch("embedding_length")
        kv_heads = heads if kv_heads is None else kv_heads
        if isinstance(kv_heads, list):
            kv_heads = max(kv_heads, default=0)
        if isinstance(heads, list):
            heads = max(heads, default=0)
        if not all(isinstance(v, int) and v > 0 for v in (layers, heads, kv_heads, width)):
            return None
        key_len = self._arch("attention.key_length") or width // heads
        value_len = self._arch("attention.value_length") or width // heads
        return int(layers * kv_heads * (key_len + value_len) * 2)


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise _BadGGUF("its header ends early: the file is truncated")
        return data

    def skip(self, n: int) -> None:
        if self.f.tell() + n > self.size:
            raise _BadGGUF("its header ends early: the file is truncated")
        self.f.seek(n, os.SEEK_CUR)

    def u32(self) -> int:
        return int(_U32.unpack(self.take(4))[0])

    def count(self) -> int:
        value = int(_U64.unpack(self.take(8))[0])
        if value > _MAX_COUNT:
            raise _BadGGUF(f"its header holds an impossible count ({value})")
        return value

    def string(self) -> str:
        n = int(_U64.unpack(self.take(8))[0])
        if n > _MAX_STRING:
            raise _BadGGUF(f"its header holds an impossible string length ({n})")
        return self.take(n).decode("utf-8", "replace")

    def skip_string(self) -> None:
        n = int(_U64.unpack(self.take(8))[0])
        if n > _MAX_STRING:
            raise _BadGGUF(f"its header holds an impossible string length ({n})")
        self.skip(n)

    def value(self, kind: int) -> Any:
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            return scalar.unpack(self.take(scalar.size))[0]
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            return self.array()
        raise _BadGGUF(f"its header holds an unknown value type ({kind})")

    def array(self) -> list[Any] | None:
        kind = self.u32()
        n = self.count()
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            if n <= _KEEP_ARRAY:
                data = self.take(scalar.size * n)
                return [scalar.unpack_from(data, i * scalar.size)[0] for i in range(n)]
            self.skip(scalar.size * n)
            return None
        if kind == _STRING:
            for _ in range(n):
                self.skip_string()
            return None
        if kind == _ARRAY:
            for _ in range(n):
                self.array()
            return None
        raise _BadGGUF(f"its header holds an unknown array type ({kind})")


def read_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read and check the header of a GGUF file (magic, version, metadata, tensor table).

    Parameters
    ----------
    path:
        The ``.gguf`` file.

    Raises
    ------
    ProviderError
        When the file is not GGUF, is truncated, or its header is corrupt.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        with file.open("rb") as f:
            return _read_gguf(_Reader(f, size), size)
    except _BadGGUF as exc:
        raise ProviderError(
            f"{file} is not a usable GGUF model: {exc}; download the model again or pick "
            "another .gguf file",
            provider="local",
        ) from None
    except OSError as exc:
        raise ProviderError(
            f"cannot read the local model file {file}: {exc.strerror or exc}; check the path "
            "and its permissions",
            provider="local",
        ) from exc


def _read_gguf(r: _Reader, size: int) -> GGUFInfo:
    head = r.f.read(4)
    if head != _GGUF_MAGIC:
        shown = head.hex() if head else "nothing"
        raise _BadGGUF(f"it does not start with the GGUF magic bytes (found {shown})")
    version = r.u32()
    if version < 2 or version > 64:
        raise _BadGGUF(
            f"GGUF version {version} is not supported (llama.cpp reads versions 2 and 3)"
        )
    tensors = r.count()
    keys = r.count()
    metadata: dict[str, Any] = {}
    for _ in range(keys):
        key = r.string()
        value = r.value(r.u32())
        if value is not None:
            metadata[key] = value
    last_offset = 0
    for _ in range(tensors):
        r.skip_string()
        dims = r.u32()
        if dims > 8:
            raise _BadGGUF(f"a tensor claims {dims} dimensions")
        r.skip(8 * dims + 4)
        last_offset = max(last_offset, int(_U64.unpack(r.take(8))[0]))
    alignment = metadata.get("general.alignment", 32)
    alignment = alignment if isinstance(alignment, int) and alignment > 0 else 32
    data_start = -(-r.f.tell() // alignment) * alignment
    if tensors and data_start + last_offset >= size:
        raise _BadGGUF(
            f"its tensor data ends past the end of the file ({size} bytes): the file is truncated"
        )
    return GGUFInfo(version=version, tensor_count=tensors, metadata=metadata)
