"""Plugin registration for lsw_stylenerf."""

from lsw_core.plugins import hookimpl  # noqa: F401
