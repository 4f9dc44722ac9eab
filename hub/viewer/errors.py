"""Errors of the Dataset Viewer API, with the status codes and ``X-Error-Code`` values of
datasets-server (``libapi/exceptions.py`` and ``libcommon/exceptions.py`` of dataset-viewer).

They are :class:`~ocforge.hub.errors.HubError` subclasses, so the server answers them as every
other Hub error: JSON ``{"error": message}`` plus ``X-Error-Code``.
"""

from __future__ import annotations

from ..errors import HubError


class MissingRequiredParameterError(HubError):
    """A required query parameter (``dataset``, ``config``, ``split``, ``query``) is absent."""

    status = 422
    code = "MissingRequiredParameter"


class InvalidParameterError(HubError):
    """A parameter has a bad value: ``length`` over 100, a ``where`` clause we refuse, ..."""

    status = 422
    code = "InvalidParameter"


class ResponseNotFoundError(HubError):
    """No such config or split in the dataset (datasets-server: "Not found.")."""

    status = 404
    code = "ResponseNotFound"


class UnauthenticatedError(HubError):
    """Anonymous caller and a dataset that is missing or private (never says which)."""

    status = 401
    code = "ExternalUnauthenticatedError"


class AuthenticatedError(HubError):
    """Authenticated caller who may not see the dataset (missing or private elsewhere)."""

    status = 404
    code = "ExternalAuthenticatedError"


class ConfigNamesError(HubError):
    """The card's ``configs:`` metadata cannot be read into config names."""

    status = 500
    code = "ConfigNamesError"


class DataFilesNotFoundError(HubError):
    """A config's ``data_files`` match no file, or no data file is found at all."""

    status = 500
    code = "DataFilesNotFoundError"


class FileFormatError(HubError):
    """A data file is not Parquet, or cannot be read as Parquet."""

    status = 500
    code = "FileSystemError"


class SchemaMismatchError(HubError):
    """The Parquet files of one split do not share their column names and types."""

    status = 422
    code = "SplitParquetSchemaMismatchError"


class ViewerDisabledError(HubError):
    """The card says ``viewer: false``."""

    status = 501
    code = "DatasetViewerDisabledError"
