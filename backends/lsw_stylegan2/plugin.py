"""Plugin registration for lsw_stylegan2."""

from lsw_core.plugins import hookimpl  # noqa: F401
