"""Chat completions against any OpenAI-compatible endpoint, bounded and cached.

One :class:`ResponseCache` (SQLite under the output folder) holds every reply: answers of the
model under test, generator and judge verdicts. A request's key is the sha256 of its canonical
``{model, messages, sampling}``, so a re-run sends no request whose reply is stored, and a run
killed at any point resumes where it stopped: each reply is committed as soon as it arrives.

Timeouts and 5xx answers are retried, then counted and returned as no reply (the caller records
a missing value); 4xx answers and unreachable endpoints stop the run with a clear error. API keys
are read from the environment variable an option names and never printed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ocforge.errors import JudgeError
from ocforge.redaction import redact_url

CACHE_FILE = "cache.sqlite"


def chat_url(url: str) -> str:
    """``http://host:port``, ``.../v1`` or the full ``.../v1/chat/completions``."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return (url if url.endswith("/v1") else url + "/v1") + "/chat/completions"


def request_key(model: str, messages: Sequence[dict[str, str]], sampling: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"model": model, "messages": list(messages), "sampling": sampling},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies by request key, in SQLite (WAL, one commit per reply: safe against kill -9)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the process being killed (only an OS crash can lose
        # the last ones), without an fsync per reply
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
            "request TEXT NOT NULL, text TEXT NOT NULL, usage TEXT)"
        )
        self._db.commit()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM replies WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, request: dict[str, Any], text: str, usage: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                (key, model, json.dumps(request, ensure_ascii=False), text, json.dumps(usage)),
            )
            self._db.commit()

    def count(self, model: str | None = None) -> int:
        """Stored replies (of ``model`` only, when given)."""
        query, args = "SELECT COUNT(*) FROM replies", ()
        if model is not None:
            query, args = query + " WHERE model = ?", (model,)
        with self._lock:
            return self._db.execute(query, args).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint and the model name it serves."""

    url: str
    model: str
    api_key_env: str | None = None
    timeout_s: float = 120.0
    retries: int = 1  # after a timeout or a 5xx answer

    @property
    def display(self) -> str:
        return f"{self.model} at {redact_url(chat_url(self.url))}"

    def headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise JudgeError(
                f"environment variable {self.api_key_env} (API key of {self.display}) is not set"
            )
        return {"Authorization": f"Bearer {key}"}


@dataclass
class CallStats:
    """What one endpoint's calls did in this run."""

    sent: int = 0  # requests answered by the endpoint
    cached: int = 0  # replies taken from the cache
    timeouts: int = 0  # attempts that timed out
    server_errors: int = 0  # attempts answered 5xx
    failed: int = 0  # requests left without a reply after the retries

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class Reply:
    text: str | None  # None: no reply (timeouts or server errors after the retries)
    cached: bool = False
    error: str | None = None


@dataclass
class ChatClient:
    """Bounded concurrent chat completions for one endpoint, through a shared cache."""

    endpoint: Endpoint
    cache: ResponseCache
    concurrency: int = 16
    stats: CallStats = field(default_factory=CallStats)
    _sem: asyncio.Semaphore | None = field(default=None, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, repr=False)

    async def __aenter__(self) -> ChatClient:
        self._sem = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.endpoint.timeout_s), limits=limits, trust_env=False
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def complete(self, messages: list[dict[str, str]], sampling: dict[str, Any]) -> Reply:
        """The reply to ``messages``: from the cache, else from the endpoint (then stored)."""
        key = request_key(self.endpoint.model, messages, sampling)
        stored = self.cache.get(key)
        if stored is not None:
            self.stats.cached += 1
            return Reply(stored, cached=True)
        assert self._sem is not None, "use 'async with ChatClient(...)'"
        body = {"model": self.endpoint.model, "messages": messages, **sampling}
        async with self._sem:
            text, usage, error = await self._send(body)
        if text is not None:
            self.stats.sent += 1
            self.cache.put(key, self.endpoint.model, body, text, usage)
            return Reply(text)
        self.stats.failed += 1
        return Reply(None, error=error)

    async def _send(self, body: dict[str, Any]) -> tuple[str | None, Any, str | None]:
        """(text, usage, None) or, once the retries are spent, (None, None, what went wrong)."""
        url, last = chat_url(self.endpoint.url), "no attempt"
        headers = self.endpoint.headers()
        for _ in range(self.endpoint.retries + 1):
            try:
                resp = await self._http.post(url, json=body, headers=headers)  # type: ignore[union-attr]
            except httpx.TimeoutException:
                self.stats.timeouts += 1
                last = f"timeout after {self.endpoint.timeout_s:g} s"
                continue
            except httpx.ConnectError as exc:
                raise JudgeError(f"cannot reach {self.endpoint.display}: {exc}") from None
            except httpx.TransportError as exc:  # dropped mid-answer: retried like a 5xx
                self.stats.server_errors += 1
                last = f"connection error: {exc.__class__.__name__}"
                continue
            if resp.status_code >= 500:
                self.stats.server_errors += 1
                last = f"HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                raise JudgeError(
                    f"{self.endpoint.display} refused the request: HTTP {resp.status_code}: "
                    f"{resp.text[:300]}"
                )
            text, usage = _content(resp, self.endpoint)
            return text, usage, None
        return None, None, last


def _content(resp: httpx.Response, endpoint: Endpoint) -> tuple[str, Any]:
    try:
        data = resp.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise JudgeError(
            f"{endpoint.display} answered without choices[0].message.content: {resp.text[:300]}"
        ) from None
    if not isinstance(text, str):
        raise JudgeError(f"{endpoint.display} answered a non-text message content: {text!r}")
    return text, data.get("usage")
