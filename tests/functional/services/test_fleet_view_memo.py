"""FleetView.memo: what a pass reads once (a cluster's Windows IPAM setting, a role's
authorization). A failure is read once too, so a cluster out of reach costs a pass its
timeouts once rather than once per group and instance; refresh() (the next poll of a waiting
action) asks again, while values read successfully stay for the invocation."""

from __future__ import annotations

import pytest

from winnodes.errors import KubernetesError
from winnodes.services.fleet import Fleet, FleetView


def a_view() -> FleetView:
    return Fleet(autoscaling=None, compute=None, clusters=None, kube_for=None).view()  # type: ignore[arg-type]


def test_a_failed_read_is_not_repeated_until_refresh() -> None:
    view = a_view()
    attempts: list[str] = []

    def unreachable() -> bool:
        attempts.append("read")
        raise KubernetesError("GET amazon-vpc-cni: connect timeout")

    for _ in range(3):
        with pytest.raises(KubernetesError, match="connect timeout"):
            view.memo(("windows-ipam", "prod"), unreachable)
    assert attempts == ["read"]

    view.refresh()
    assert view.memo(("windows-ipam", "prod"), lambda: True) is True


def test_a_value_read_stays_across_refresh() -> None:
    view = a_view()
    assert view.memo(("role", "profile"), lambda: "arn:aws:iam::1:role/node") == (
        "arn:aws:iam::1:role/node"
    )
    view.refresh()
    assert view.memo(("role", "profile"), lambda: "read again") == "arn:aws:iam::1:role/node"


def test_forget_failures_asks_again_only_what_failed() -> None:
    # After a failed poll: what failed is asked again, what was read is not.
    view = a_view()
    view.memo(("role", "profile"), lambda: "arn:aws:iam::1:role/node")

    def unreachable() -> bool:
        raise KubernetesError("GET amazon-vpc-cni: 503")

    with pytest.raises(KubernetesError):
        view.memo(("windows-ipam", "prod"), unreachable)

    view.forget_failures()

    assert view.memo(("windows-ipam", "prod"), lambda: True) is True
    assert view.memo(("role", "profile"), lambda: "read again") == "arn:aws:iam::1:role/node"
