"""The environment a client process needs to talk to a local Hub."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit


def client_env(
    endpoint: str, token: str | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Variables to set in a huggingface_hub / datasets client process for ``endpoint``.

    * ``HF_ENDPOINT``: read at import time by huggingface_hub and datasets, so these variables
      must be in the environment *before* the client process imports them;
    * no ``HF_HUB_DISABLE_XET``: the local Hub speaks Xet, so clients upload and download the
      way they do with huggingface.co;
    * ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` = ``0``: the
      clients must go to the server even if the parent environment says offline;
    * ``HF_HUB_DISABLE_TELEMETRY=1``: no background calls;
    * ``NO_PROXY``/``no_proxy``: the server's host appended to ``base``'s value (default
      ``os.environ``), so a configured HTTP proxy is not used for it;
    * ``HF_TOKEN`` only when ``token`` is given.

    Cache locations (``HF_HOME``, ``HF_HUB_CACHE``) are left to the caller.
    """
    source = os.environ if base is None else base
    host = urlsplit(endpoint).hostname or "127.0.0.1"
    env = {
        "HF_ENDPOINT": endpoint.rstrip("/"),
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    for name in ("NO_PROXY", "no_proxy"):
        existing = [h for h in source.get(name, "").split(",") if h.strip()]
        if host not in existing:
            existing.append(host)
        env[name] = ",".join(existing)
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def shell_exports(env: Mapping[str, str], *, token_hint: str | None = None) -> list[str]:
    """``export NAME=value`` lines for ``env`` (``HF_TOKEN`` is replaced by ``token_hint``)."""
    lines = []
    for name, value in env.items():
        if name == "HF_TOKEN":
            continue
        lines.append(f"export {name}={_quote(value)}")
    if token_hint is not None:
        lines.append(token_hint)
    return lines


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-_./:,@%+=" for c in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


# First non-comment, non-blank entry whose role column is not "read"; awk splits on any run of
# blanks, as the token parser does. The file starts with a "#" comment when ``ocforge release``
# wrote it, so a plain ``cut -f1`` would yield two lines (an invalid header value).
_FIRST_WRITE_TOKEN_AWK = '!/^[ \\t]*(#|$)/ && $3 != "read" {print $1; exit}'


def token_file_export(path: Path) -> str:
    """A POSIX shell line that sets ``HF_TOKEN`` to the first write token of a token file.

    The line names the file, never a token, so it is safe to print.
    """
    program = shlex.quote(_FIRST_WRITE_TOKEN_AWK)
    return f'export HF_TOKEN="$(awk {program} {shlex.quote(str(path))})"'
