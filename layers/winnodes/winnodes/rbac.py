"""The Kubernetes permissions the functions need, and no more (safety rule 6). Bound to the group
the functions' IAM role is mapped to (aws-auth mapRoles or an access entry's kubernetesGroups).

Join: read/patch Nodes' state, the amazon-vpc-cni and aws-auth ConfigMaps in kube-system.
Leave: cordon/label/annotate and delete Nodes, list and evict Pods, read PDBs to name blockers."""

from __future__ import annotations

from typing import Any, Final

FUNCTIONS_GROUP: Final = "eks-windows-nodes"
NAME: Final = "eks-windows-nodes"

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
# of an object before it exists); get/update/patch are limited to the two we own or merge into.
KUBE_SYSTEM_ROLE: Final[dict[str, Any]] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": NAME, "namespace": "kube-system"},
    "rules": [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["aws-auth", "amazon-vpc-cni"],
            "verbs": ["get", "update", "patch"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ],
}

KUBE_SYSTEM_ROLE_BINDING: Final[dict[str, Any]] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": NAME, "namespace": "kube-system"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
    "subjects": [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": FUNCTIONS_GROUP}
    ],
}

MANIFESTS: Final = (CLUSTER_ROLE, CLUSTER_ROLE_BINDING, KUBE_SYSTEM_ROLE, KUBE_SYSTEM_ROLE_BINDING)
