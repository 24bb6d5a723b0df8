"""`winnodes rbac`: the RBAC the functions need, printed for `kubectl apply -f -`."""

from __future__ import annotations

import yaml

from tests.helpers.cli import run
from winnodes import rbac


def test_prints_every_manifest_in_creation_order_as_yaml() -> None:
    result = run("rbac")
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert documents == [dict(m) for m in rbac.MANIFESTS]
    kinds = [d["kind"] for d in documents]
    assert kinds.index("Namespace") < kinds.index("Role", kinds.index("Namespace"))


def test_the_smoke_test_namespace_can_be_chosen() -> None:
    result = run("rbac", "--smoke-test-namespace", "win-smoke")
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    smoke = [d for d in documents if d["metadata"].get("namespace") == "win-smoke"]
    assert sorted(d["kind"] for d in smoke) == ["Role", "RoleBinding"]
    assert {"kind": "Namespace", "name": "win-smoke"}.items() <= {
        "kind": documents[4]["kind"],
        "name": documents[4]["metadata"]["name"],
    }.items()
    assert not [d for d in documents if d["metadata"].get("namespace") == "eks-windows-nodes"]


def test_a_bad_namespace_is_refused_with_nothing_printed() -> None:
    result = run("rbac", "--smoke-test-namespace", "Bad_NS")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("winnodes: error: --smoke-test-namespace: 'Bad_NS'")


def test_a_kube_system_namespace_is_refused_so_its_role_is_never_replaced() -> None:
    result = run("rbac", "--smoke-test-namespace", "kube-system")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "the kube- prefix is reserved" in result.stderr
