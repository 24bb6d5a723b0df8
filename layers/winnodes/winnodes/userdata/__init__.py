"""PowerShell user data for Windows nodes: validation and rendering (pure)."""

from winnodes.userdata.render import encode_userdata, render_userdata
from winnodes.userdata.settings import BootstrapSettings, Taint, bootstrap_settings

__all__ = ["BootstrapSettings", "Taint", "bootstrap_settings", "encode_userdata", "render_userdata"]
