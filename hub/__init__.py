"""A local, Hub-compatible HTTP server for unmodified huggingface_hub / datasets clients.

Public API:

* :class:`LocalHub` - context manager running the server in a background thread;
* :func:`client_env` - environment a client process needs (``HF_ENDPOINT``, ...);
* :class:`TokenStore`, :data:`TOKENS_ENV_VAR` - token configuration;
* :class:`HubStore` - the on-disk storage, for inspection.

See README.md in this folder for what is supported.
"""

from .auth import TOKENS_ENV_VAR, Identity, TokenConfigError, TokenStore, generate_token
from .clientenv import client_env
from .context import Limits
from .errors import HubError
from .local import LocalHub
from .storage import HubStore

__all__ = [
    "TOKENS_ENV_VAR",
    "HubError",
    "HubStore",
    "Identity",
    "Limits",
    "LocalHub",
    "TokenConfigError",
    "TokenStore",
    "client_env",
    "generate_token",
]
