"""PowerShell user data for Windows nodes: validation and rendering (pure)."""
