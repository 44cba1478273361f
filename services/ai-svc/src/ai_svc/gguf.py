"""Reading and patching a GGUF file's metadata (the key/value header before the tensors).

Layout (GGUF v2/v3, little-endian): magic b"GGUF", u32 version, u64 tensor count, u64 key/value
count, then per key: a string key (u64 length + UTF-8), a u32 value type, the value. Strings
are u64 length + bytes; arrays are u32 element type + u64 count + the elements.

Only what ai-svc needs: read the string/number values (e.g. the context length the model was
trained with) and replace a string value in place by one of the same length, which keeps
every offset in the file valid.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
_STRING = 8
_ARRAY = 9
# value type -> struct format of a scalar
_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
MAX_KEYS = 100_000  # a real header has a few dozen; more means a corrupt file


class GGUFError(Exception):
    """Not a GGUF file, or a header this reader does not understand."""


@dataclass
class StringValue:
    value: str
    offset: int  # where the string's bytes start in the file
    length: int  # in bytes


def _read(f: BinaryIO, fmt: str) -> int | float | bool:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise GGUFError("the file ends inside its header")
    value: int | float | bool = struct.unpack(fmt, data)[0]
    return value


def _read_string(f: BinaryIO) -> tuple[str, int, int]:
    length = int(_read(f, "<Q"))
    offset = f.tell()
    data = f.read(length)
    if len(data) != length:
        raise GGUFError("the file ends inside a string")
    return data.decode("utf-8", errors="replace"), offset, length


def _skip(f: BinaryIO, typ: int) -> None:
    if typ == _STRING:
        _read_string(f)
    elif typ in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[typ]), 1)
    elif typ == _ARRAY:
        inner, count = int(_read(f, "<I")), int(_read(f, "<Q"))
        if inner in _SCALARS:  # arrays of numbers: skipped in one seek
            f.seek(struct.calcsize(_SCALARS[inner]) * count, 1)
        else:
            for _ in range(count):
                _skip(f, inner)
    else:
        raise GGUFError(f"unknown GGUF value type {typ}")


def read_metadata(path: Path) -> dict[str, int | float | bool | StringValue]:
    """Scalar and string values of the header by key (arrays are skipped)."""
    found: dict[str, int | float | bool | StringValue] = {}
    with path.open("rb") as f:
        if f.read(4) != MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF file")
        version = int(_read(f, "<I"))
        if version not in (2, 3):
            raise GGUFError(f"{path.name}: GGUF version {version} is not supported")
        _read(f, "<Q")  # tensor count
        count = int(_read(f, "<Q"))
        if count > MAX_KEYS:
            raise GGUFError(f"{path.name}: {count} metadata keys: a corrupt header")
        for _ in range(count):
            key = _read_string(f)[0]
            typ = int(_read(f, "<I"))
            if typ == _STRING:
                found[key] = StringValue(*_read_string(f))
            elif typ in _SCALARS:
                found[key] = _read(f, _SCALARS[typ])
            else:
                _skip(f, typ)
    return found


def replace_string(path: Path, key: str, old: str, new: str) -> bool:
    """Change the string value of `key` from `old` to `new` in place (same byte length).

    False when it already is `new`; GGUFError when the key is missing or holds another value.
    """
    if len(old.encode()) != len(new.encode()):
        raise GGUFError("the new value must have the same length in bytes as the old one")
    value = read_metadata(path).get(key)
    if not isinstance(value, StringValue):
        raise GGUFError(f"{path.name} has no string metadata {key!r}")
    if value.value == new:
        return False
    if value.value != old:
        raise GGUFError(f"{path.name}: {key} is {value.value!r}, expected {old!r}")
    with path.open("r+b") as f:
        f.seek(value.offset)
        f.write(new.encode())
    return True


def context_length(path: Path) -> int | None:
    """The context length the model was trained with (`<arch>.context_length`), if stated."""
    meta = read_metadata(path)
    arch = meta.get("general.architecture")
    if isinstance(arch, StringValue):
        n = meta.get(f"{arch.value}.context_length")
        if isinstance(n, int) and not isinstance(n, bool):
            return n
    return None
