"""Kubernetes API access: EKS bearer tokens, the official client's REST layer, one small module
per resource kind. Everything above sees plain dicts and winnodes.errors."""
