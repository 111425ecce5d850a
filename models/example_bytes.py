"""A parsed Criteo row straight to the bytes of its serialized tf.Example: what CriteoExampleGen
writes and what serving clients send (models/serving_contract.py: serialized_examples).

The same bytes as `row_to_example(row).SerializeToString(deterministic=True)`
(models/serving_contract.py; tests/test_example_bytes.py checks it on real rows), without
building 40 protobuf messages per row, the largest share of CriteoExampleGen's time and of
building a request that way (docs/PERFORMANCE.md). Identical bytes keep TFX's hash split, which
hashes them, unchanged.

Wire format: Example{features=1: Features{feature=1: map entries {key=1, value=2: Feature}}},
a Feature holding bytes_list=1: BytesList{value=1} or int64_list=3: Int64List{packed value=1};
deterministic serialization orders map keys bytewise, a key before its extensions ("C10" < "C1").
"""
from __future__ import annotations

from typing import Any, Mapping

from models import features

# Map-key order of deterministic serialization: bytewise, a longer key before its prefix.
KEY_ORDER: tuple[str, ...] = tuple(sorted(features.RAW_COLUMNS, key=lambda name: name.encode() + b"\xff"))
_SHORT = tuple(bytes([n]) for n in range(128))


def _varint(n: int) -> bytes:
    if 0 <= n < 128:
        return _SHORT[n]
    n &= (1 << 64) - 1  # int64 as two's complement, ten bytes when negative
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


_KEYS = {name: _field(b"\x0a", name.encode()) for name in KEY_ORDER}


def serialize_row(row: Mapping[str, Any]) -> bytes:
    """bytes values -> a BytesList, int values -> an Int64List; an absent key is an absent feature."""
    entries = []
    for name in KEY_ORDER:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, bytes):
            feature = _field(b"\x0a", _field(b"\x0a", value))
        else:
            feature = _field(b"\x1a", _field(b"\x0a", _varint(value)))
        entries.append(_field(b"\x0a", _KEYS[name] + _field(b"\x12", feature)))
    return _field(b"\x0a", b"".join(entries))
