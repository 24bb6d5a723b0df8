"""The smoke test's RBAC: pods only in its own namespace, created before its Role."""

from __future__ import annotations

from winnodes import rbac


def test_the_smoke_test_may_create_pods_only_in_its_own_namespace() -> None:
    namespace, role, binding = rbac.smoke_test_manifests("node-checks")
    assert namespace["kind"] == "Namespace" and namespace["metadata"]["name"] == "node-checks"
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "node-checks"
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "delete"]}
    ]
    assert binding["metadata"]["namespace"] == "node-checks"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["name"] == rbac.FUNCTIONS_GROUP
    cluster_wide = [r for r in rbac.CLUSTER_ROLE["rules"] if "pods" in r["resources"]]
    assert all("create" not in r["verbs"] for r in cluster_wide)


def test_the_shipped_manifests_create_the_namespace_before_its_role() -> None:
    kinds = [(m["kind"], m["metadata"].get("namespace")) for m in rbac.MANIFESTS]
    assert kinds.index(("Namespace", None)) < kinds.index(("Role", "eks-windows-nodes"))


def test_no_two_manifests_share_a_kind_namespace_and_name_whatever_the_smoke_namespace() -> None:
    # kubectl apply would let the later one replace the earlier: with equal names, a smoke Role in
    # kube-system would wipe the functions' ConfigMap rights.
    for namespace in ("eks-windows-nodes", "default", "kube-system"):
        keys = [
            (m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"])
            for m in rbac.manifests(smoke_test_namespace=namespace)
        ]
        assert len(keys) == len(set(keys)), namespace
