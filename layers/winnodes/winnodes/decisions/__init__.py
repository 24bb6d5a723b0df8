"""Pure decision functions: no I/O, no clock."""
