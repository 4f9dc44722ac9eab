"""safetensors weights of a checkpoint: their tensors (read with ``safetensors.safe_open``), sizes
and the consistency of a sharded checkpoint's index."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

INDEX_NAME = "model.safetensors.index.json"


def safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """The tensors of a safetensors file, read by ``safetensors.safe_open``: name -> ``dtype``
    (safetensors' name, e.g. ``BF16``) and ``shape``.

    Raises:
        ValueError: the file is not a readable safetensors file.
    """
    try:
        with safe_open(str(path), framework="numpy") as fh:
            slices = {name: fh.get_slice(name) for name in fh.keys()}
            return {n: {"dtype": s.get_dtype(), "shape": s.get_shape()} for n, s in slices.items()}
    except SafetensorError as exc:
        raise ValueError(_unreadable(path, exc)) from None


def _unreadable(path: Path, exc: SafetensorError) -> str:
    """Why safetensors refused the file: in our words when its first 8 bytes say, else its own."""
    size = path.stat().st_size
    if size < 8:
        return "shorter than a safetensors header"
    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
    if length > 100 * 1024 * 1024 or length > size - 8:
        return f"header length {length} is impossible for a {size}-byte file"
    return str(exc).removeprefix("Error while deserializing header: ")


def _dtype_bits(dtype: str) -> int:
    """Bits per element of a safetensors dtype (``F32`` 32, ``F8_E4M3`` 8, ``F4`` 4, ``BOOL`` 8)."""
    match = re.match(r"[A-Z]+(\d+)", dtype)
    return int(match.group(1)) if match else 8


def tensor_bytes(header: dict[str, Any]) -> int:
    # safe_open checks that each tensor's byte range is exactly its elements times their size
    return sum(-(-math.prod(t["shape"]) * _dtype_bits(t["dtype"]) // 8) for t in header.values())


def num_elements(header: dict[str, Any]) -> int:
    return sum(math.prod(t["shape"]) for t in header.values())


def check_sharded(root: Path, shards: list[str], problems: list[str]) -> int:
    index_path = root / INDEX_NAME
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        weight_map: dict[str, str] = index["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        problems.append(f"{INDEX_NAME}: unreadable or no 'weight_map' ({exc})")
        return 0
    listed = sorted(set(weight_map.values()))
    for name in listed:
        if name not in shards:
            n = sum(1 for f in weight_map.values() if f == name)
            problems.append(
                f"{INDEX_NAME}: shard {name} (holding {n} tensors) is missing from the folder"
            )
    for name in shards:
        if name not in listed:
            problems.append(f"{name}: shard on disk not referenced by {INDEX_NAME}")
    total_bytes = 0
    elements = 0
    for name in listed:
        if name not in shards:
            continue
        try:
            header = safetensors_header(root / name)
        except ValueError as exc:
            problems.append(f"{name}: not a readable safetensors file ({exc})")
            continue
        total_bytes += tensor_bytes(header)
        elements += num_elements(header)
        expected = {t for t, f in weight_map.items() if f == name}
        missing = sorted(expected - header.keys())
        extra = sorted(header.keys() - expected)
        if missing:
            problems.append(
                f"{name}: {len(missing)} tensor(s) that {INDEX_NAME} maps to this shard are absent: "
                + ", ".join(missing[:5])
                + (" ..." if len(missing) > 5 else "")
            )
        if extra:
            problems.append(
                f"{name}: {len(extra)} tensor(s) not in {INDEX_NAME}'s weight_map: "
                + ", ".join(extra[:5])
                + (" ..." if len(extra) > 5 else "")
            )
    metadata = index.get("metadata") or {}
    for key, actual, unit in (
        ("total_size", total_bytes, "bytes of tensors"),
        ("total_parameters", elements, "parameters"),
    ):
        declared = metadata.get(key)
        if not problems and declared is not None and int(declared) != actual:
            problems.append(
                f"{INDEX_NAME}: metadata.{key} is {declared} but the shards hold {actual} {unit}"
            )
    return elements
