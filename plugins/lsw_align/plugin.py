"""Plugin registration for lsw_align."""

from lsw_core.plugins import hookimpl  # noqa: F401
