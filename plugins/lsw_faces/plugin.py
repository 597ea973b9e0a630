"""Plugin registration for lsw_faces."""

from lsw_core.plugins import hookimpl  # noqa: F401
