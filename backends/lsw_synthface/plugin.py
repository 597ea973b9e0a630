"""Plugin registration for lsw_synthface."""

from lsw_core.plugins import hookimpl  # noqa: F401
