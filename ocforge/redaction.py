"""Keep signed URLs and tokens out of everything ocforge prints and logs.

Upload and download URLs handed out by a Hub carry a capability: the local Hub's LFS upload href
has ``?size=..&expires=..&sig=<HMAC>``, huggingface.co redirects to S3/CloudFront/Xet URLs with
``X-Amz-Signature`` or ``Signature`` query parameters. huggingface_hub puts such URLs into its
retry warnings (``HTTP Error 503 thrown while requesting PUT <url>``, ``'<error>' thrown while
requesting PUT <url>``) and httpx2 into its exception text (``... for url '<url>'``) and INFO log
(``HTTP Request: PUT <url> ...``). What failed is said by the method, host and path; the query
string, fragment and any ``user:password@`` are dropped instead.

:func:`install` hooks this into logging once per process: every log record is redacted when it
is created, whichever library logs it and whichever handler prints it later. Error messages that
ocforge prints go through :func:`redact_text` (or :func:`redact_exception` for a whole chain).
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from typing import Any

#: what a removed part of a URL is replaced with
MARK = "[redacted]"

# scheme://rest, up to whitespace, a quote or an angle bracket (how URLs end in log lines)
_URL = re.compile(r"""\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'"<>`\\]+""")
# punctuation that ends the sentence around a URL rather than the URL itself
_TRAILING = ".,;:!)]}"
# credentials outside URLs: an Authorization value, tokens in the shapes the secret scan knows,
# and signature-like key=value pairs (a URL cut short by a space, a form body)
_TOKENS = [
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=\-]{8,}"), r"\1\2" + MARK),
    (re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{20,}"), "hf_" + MARK),
    (re.compile(r"(?<![A-Za-z0-9_])sk-[A-Za-z0-9_\-]{20,}"), "sk-" + MARK),
    (re.compile(r"(?<![A-Za-z0-9_])(?:AKIA|ASIA)[0-9A-Z]{16}"), MARK),
    (
        re.compile(
            r"(?i)\b((?:x-amz-)?(?:signature|sig|token|access_token|password|secret|"
            r"credential|security-token|key-pair-id|policy))=[^&\s'\"]+"
        ),
        r"\1=" + MARK,
    ),
]


def redact_url(url: str) -> str:
    """``url`` without its query string, fragment and user info: ``scheme://host/path?[redacted]``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    tail = ""
    if cut >= 0:
        rest, tail = rest[:cut], "?" + MARK
    authority, slash, path = rest.partition("/")
    if "@" in authority:  # user:password@host
        authority = MARK + "@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{path}{tail}"


_PAIRS = {")": "(", "]": "[", "}": "{"}


def _url_match(m: re.Match[str]) -> str:
    url = m.group(0)
    end = len(url)
    while end and url[end - 1] in _TRAILING:
        close = url[end - 1]
        # a closing bracket with its opener in the URL belongs to it ("[::1]", "?[redacted]")
        if close in _PAIRS and url.count(_PAIRS[close], 0, end) >= url.count(close, 0, end):
            break
        end -= 1
    return redact_url(url[:end]) + url[end:]


def redact_text(text: str) -> str:
    """``text`` with every URL's query, fragment and user info and every token-like value
    replaced by ``[redacted]``; the rest (method, host, path, status) is kept."""
    if not text:
        return text
    text = _URL.sub(_url_match, text)
    for rx, repl in _TOKENS:
        text = rx.sub(repl, text)
    return text


def redact_exception(exc: BaseException) -> BaseException:
    """Redact the string arguments of ``exc`` and of every exception chained to it, in place.

    ``str(exc)`` of the usual exceptions is built from ``args``; huggingface_hub's
    ``HfHubHTTPError`` and httpx2's errors hold the URL there. Returns ``exc``.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        try:
            current.args = tuple(redact_text(a) if isinstance(a, str) else a for a in current.args)
        except (AttributeError, TypeError):  # an exception type with read-only args
            pass
        stack += [current.__cause__, current.__context__]
    return exc


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites a record's message (and traceback text) redacted.

    It never drops a record: a retry warning still says what failed and how often.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace ``record``'s message by its redacted text, once it is formatted."""
    if getattr(record, "_ocforge_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: keep what is there, redacted
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redact_text(message), ()
    if record.exc_info and not record.exc_text:
        # formatted now, so that no handler formats the unredacted exception later
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    record._ocforge_redacted = True
    return record


_lock = threading.Lock()
_installed = False


def install() -> None:
    """Redact every log record and warning of this process from now on; idempotent.

    A filter on a logger sees only the records logged on that very logger, not those of its
    children (``huggingface_hub.utils._http``, ``huggingface_hub.lfs``, ``httpx2``), and a filter
    on a handler misses handlers added later. So the filter runs where every record is made:
    the log record factory. Warnings (``warnings.warn``) are redacted as they are formatted.
    """
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        format_warning = warnings.formatwarning

        def formatwarning(message: Any, *args: Any, **kwargs: Any) -> str:
            return redact_text(format_warning(message, *args, **kwargs))

        warnings.formatwarning = formatwarning  # type: ignore[assignment]
        _installed = True
