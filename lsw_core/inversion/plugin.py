"""Plugin registration for inversion."""

from lsw_core.plugins import hookimpl  # noqa: F401
