"""Typed errors. Adapters map AWS and Kubernetes API errors onto these; nothing above them
matches error strings."""

from __future__ import annotations

QUOTE_LIMIT = 300


def excerpt(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` as an error message may quote it: a server's page can be hundreds of KB, and an
    X-Ray document that carries the error is dropped past 64 KB."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


class WinNodesError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidInputError(WinNodesError):
    """A value given to us (event, CLI option, configuration) is not acceptable.

    `field` names what was wrong so callers can print one clear line."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ConfigurationError(InvalidInputError):
    """A setting read from the environment is not acceptable; `field` names the variable, so the
    message says where to fix it rather than reading like a bad option or event field."""

    def __str__(self) -> str:
        return f"environment variable {self.field}: {self.reason}"


class AwsError(WinNodesError):
    """An AWS call failed for a reason the caller cannot fix by changing input."""


class AwsCredentialsError(AwsError):
    """No usable AWS credentials, region or endpoint in the AWS configuration."""


class ClusterNotFoundError(AwsError):
    def __init__(self, cluster: str, region: str | None) -> None:
        where = f" in region {region}" if region else ""
        super().__init__(f"EKS cluster {cluster!r} not found{where}")
        self.cluster = cluster
        self.region = region


class KubernetesError(WinNodesError):
    """A Kubernetes API call failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KubernetesNotFoundError(KubernetesError):
    """404"""


class KubernetesConflictError(KubernetesError):
    """409: stale resourceVersion or the object already exists."""


class KubernetesTooManyRequestsError(KubernetesError):
    """429: for an eviction, a PodDisruptionBudget does not allow it now."""
