"""Plugin registration for lsw_lpips."""

from lsw_core.plugins import hookimpl  # noqa: F401
