"""Plugin registration for lsw_synthface."""

from lsw_core.plugins import hookimpl  # noqa: F401
from lsw_synthface.nets_plugin import *  # noqa: E402,F401,F403
