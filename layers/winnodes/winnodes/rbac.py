"""The Kubernetes permissions the functions need, and no more (safety rule 6). Bound to the group
the functions' IAM role is mapped to (aws-auth mapRoles or an access entry's kubernetesGroups).

Join: read/patch Nodes' state, the amazon-vpc-cni and aws-auth ConfigMaps in kube-system; with
the smoke test, create/get/list/delete Pods in the smoke-test namespace only.
Leave: cordon/label/annotate and delete Nodes, list and evict Pods, read PDBs to name blockers."""

from __future__ import annotations

from typing import Any, Final

from winnodes.decisions.smoke import DEFAULT_SMOKE_TEST_NAMESPACE, MANAGED_BY, MANAGED_BY_LABEL

FUNCTIONS_GROUP: Final = "eks-windows-nodes"
NAME: Final = "eks-windows-nodes"
# A name of its own, so no namespace can make the smoke Role replace the kube-system one on apply.
SMOKE_TEST_NAME: Final = "eks-windows-nodes-smoke-test"

CLUSTER_ROLE: Final[dict[str, Any]] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": NAME},
    "rules": [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]},
        {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["list"]},
    ],
}

CLUSTER_ROLE_BINDING: Final[dict[str, Any]] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": NAME},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
    "subjects": [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": FUNCTIONS_GROUP}
    ],
}

# ConfigMaps only in kube-system. `create` cannot be limited by name (RBAC cannot know the name
# of an object before it exists); get/patch are limited to the two we own or merge into. No
# `update`: every write is a merge patch (adapters.kube.cluster).
KUBE_SYSTEM_ROLE: Final[dict[str, Any]] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": NAME, "namespace": "kube-system"},
    "rules": [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["aws-auth", "amazon-vpc-cni"],
            "verbs": ["get", "patch"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ],
}


def _role_binding(namespace: str, role: str) -> dict[str, Any]:
    """Binds the functions' group to our Role `role` in `namespace` (the binding takes its name)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": role, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": FUNCTIONS_GROUP}
        ],
    }


KUBE_SYSTEM_ROLE_BINDING: Final = _role_binding("kube-system", NAME)


def smoke_test_manifests(
    namespace: str = DEFAULT_SMOKE_TEST_NAMESPACE,
) -> tuple[dict[str, Any], ...]:
    """The smoke test's namespace and a Role there: its pods are created, read, listed and
    deleted there, so no cluster-wide right to create pods is needed. Apply these for the namespace
    SMOKE_TEST_NAMESPACE names (the default unless set)."""
    role: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": SMOKE_TEST_NAME, "namespace": namespace},
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "delete"]}
        ],
    }
    namespace_object = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
    }
    return (namespace_object, role, _role_binding(namespace, SMOKE_TEST_NAME))


def manifests(
    *, smoke_test_namespace: str = DEFAULT_SMOKE_TEST_NAMESPACE
) -> tuple[dict[str, Any], ...]:
    """Everything to apply, in the order it can be created (a namespace before what lives in
    it); `winnodes rbac` prints it."""
    return (
        CLUSTER_ROLE,
        CLUSTER_ROLE_BINDING,
        KUBE_SYSTEM_ROLE,
        KUBE_SYSTEM_ROLE_BINDING,
        *smoke_test_manifests(smoke_test_namespace),
    )


MANIFESTS: Final = manifests()
