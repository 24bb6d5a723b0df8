"""Hands-off lifecycle for self-managed Windows node groups of private Amazon EKS clusters."""

# The one place the release is written: pyproject.toml reads it, the CLI prints it, and every
# log line of the functions carries it (the layer has no package metadata to ask).
__version__ = "0.1.0"
