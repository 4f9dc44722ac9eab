"""Choosing between the regular and the LFS upload mode (the ``preupload`` answer).

Like the Hub: a file goes to LFS if the revision's ``.gitattributes`` gives it ``filter=lfs``,
if it is 10 MiB or larger, or if its first bytes contain a NUL (binary). Empty files are always
regular (the client forces that too).
"""

from __future__ import annotations

import fnmatch

LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

# The Hub gives every new repo a .gitattributes that sends binary formats to LFS; the local hub
# does the same so that `preupload` can use it and listings look like the Hub's.
DEFAULT_GITATTRIBUTES = "\n".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text"
    for pattern in (
        "*.7z", "*.arrow", "*.avro", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gguf", "*.gz",
        "*.h5", "*.joblib", "*.lz4", "*.mds", "*.mlmodel", "*.model", "*.msgpack", "*.npy",
        "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth",
        "*.rar", "*.safetensors", "*.tar", "*.tar.*", "*.tflite", "*.tgz", "*.wasm", "*.xz",
        "*.zip", "*.zst", "*tfevents*",
        # audio and images, as the Hub's dataset template does
        "*.flac", "*.mp3", "*.ogg", "*.wav", "*.jpg", "*.jpeg", "*.png", "*.webp", "*.gif",
    )
) + "\n"  # fmt: skip


def parse_lfs_patterns(text: str) -> list[tuple[str, bool]]:
    """(pattern, is_lfs) rules from ``.gitattributes`` text, in file order."""
    rules: list[tuple[str, bool]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, *attrs = line.split()
        for attr in attrs:
            if attr == "filter=lfs":
                rules.append((pattern, True))
            elif attr in ("-filter", "!filter") or (
                attr.startswith("filter=") and attr != "filter=lfs"
            ):
                rules.append((pattern, False))
    return rules


def _matches(pattern: str, path: str) -> bool:
    if "/" not in pattern.rstrip("/"):
        # git: a pattern without a slash matches the file name at any depth
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return fnmatch.fnmatchcase(path, pattern.lstrip("/"))


def is_lfs_by_attributes(rules: list[tuple[str, bool]], path: str) -> bool | None:
    """What the last matching rule says about ``path`` (``None`` if no rule matches)."""
    decision: bool | None = None
    for pattern, is_lfs in rules:
        if _matches(pattern, path):
            decision = is_lfs
    return decision


def choose_upload_mode(path: str, size: int, sample: bytes, rules: list[tuple[str, bool]]) -> str:
    """``"lfs"`` or ``"regular"`` for a file announced in a preupload request."""
    if size == 0:
        return "regular"
    if is_lfs_by_attributes(rules, path) or size >= LFS_SIZE_THRESHOLD or b"\0" in sample:
        return "lfs"
    return "regular"
