"""Error types of the local Hub.

Every failure a client can trigger is a :class:`HubError` carrying the HTTP status, the
``X-Error-Code`` value and a human-readable message. The server turns it into a JSON body plus
the ``X-Error-Code``/``X-Error-Message`` headers, because huggingface_hub decides which exception
to raise from those headers (``RepoNotFound`` -> ``RepositoryNotFoundError`` and so on), not from
the status code alone.

Messages must never contain a token: they are sent to clients and may be logged.
"""

from __future__ import annotations


class HubError(Exception):
    """A client-visible error: HTTP ``status``, ``X-Error-Code`` value ``code`` and ``message``."""

    status: int = 500
    code: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        #: extra response headers, e.g. ``X-Repo-Commit`` on a missing file
        self.headers: dict[str, str] = dict(headers or {})
        #: extra keys of the JSON body, e.g. ``url`` on a create-repo conflict
        self.extra: dict[str, object] = dict(extra or {})


class BadRequestError(HubError):
    """Malformed request: bad JSON, invalid repo id, path or revision name (400)."""

    status = 400
    code = "BadRequest"


class UnauthorizedError(HubError):
    """Missing or invalid credentials (401)."""

    status = 401
    code = "Unauthorized"


class ForbiddenError(HubError):
    """Valid credentials without the permission the operation needs (403)."""

    status = 403
    code = "Forbidden"


class RepoNotFoundError(HubError):
    """Repository missing, or private and the caller may not see it (404 ``RepoNotFound``)."""

    status = 404
    code = "RepoNotFound"


class RevisionNotFoundError(HubError):
    """Branch, tag or commit id that does not exist in the repository (404 ``RevisionNotFound``)."""

    status = 404
    code = "RevisionNotFound"


class GatedRepoError(HubError):
    """A gated repo's content without accepted access (403, or 401 anonymous; ``GatedRepo``).

    huggingface_hub raises ``GatedRepoError`` for this code whatever the status.
    """

    status = 403
    code = "GatedRepo"


class EntryNotFoundError(HubError):
    """File or folder missing at the resolved revision (404 ``EntryNotFound``)."""

    status = 404
    code = "EntryNotFound"


class RouteNotFoundError(HubError):
    """No endpoint matches the request path (404)."""

    status = 404
    code = "NotFound"


class MethodNotAllowedError(HubError):
    """The path exists but not for this HTTP method (405)."""

    status = 405
    code = "MethodNotAllowed"


class ConflictError(HubError):
    """Repository, branch or tag already exists (409)."""

    status = 409
    code = "Conflict"


class PreconditionFailedError(HubError):
    """``parentCommit`` of a commit is no longer the head of the branch (412)."""

    status = 412
    code = "PreconditionFailed"


class PayloadTooLargeError(HubError):
    """Request body (or one line of it) exceeds the configured limit (413)."""

    status = 413
    code = "PayloadTooLarge"


class RangeNotSatisfiableError(HubError):
    """``Range`` header starting at or past the end of the file (416)."""

    status = 416
    code = "RangeNotSatisfiable"


class UnprocessableError(HubError):
    """Well-formed request with inconsistent content, e.g. an LFS object never uploaded (422)."""

    status = 422
    code = "Unprocessable"


class NotImplementedHubError(HubError):
    """A Hub feature the local server deliberately does not implement, e.g. Xet (501)."""

    status = 501
    code = "NotImplemented"
