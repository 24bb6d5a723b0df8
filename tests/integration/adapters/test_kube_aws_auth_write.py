"""aws-auth is written only over the version that was read (DESIGN safety rule 1): when someone
else (an operator, Terraform) wrote it in between, the kube-apiserver refuses our write with a
409 and their entry stays. The service's retry on a fresh read is tested on its own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from localcloud.kube import KubeCloud
from localcloud.kube.clients import raw_json
from winnodes.adapters.kube.api import KubeApi
from winnodes.adapters.kube.cluster import KubeCluster
from winnodes.errors import KubernetesConflictError

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_auth(kube: KubeCloud) -> Iterator[None]:
    """The cluster's aws-auth as it was, put back afterwards."""
    core = kube.core_v1()
    before = raw_json(core.list_namespaced_config_map, "kube-system")["items"]
    saved = next((c for c in before if c["metadata"]["name"] == "aws-auth"), None)
    if saved is None:
        raw_json(
            core.create_namespaced_config_map,
            "kube-system",
            {"metadata": {"name": "aws-auth"}, "data": {"mapRoles": ""}},
        )
    yield
    current = raw_json(core.read_namespaced_config_map, "aws-auth", "kube-system")
    if saved is None:
        core.delete_namespaced_config_map("aws-auth", "kube-system")
    else:
        current["data"] = saved.get("data") or {}
        raw_json(core.replace_namespaced_config_map, "aws-auth", "kube-system", current)


@pytest.mark.usefixtures("aws_auth")
def test_a_write_over_a_version_someone_else_replaced_is_refused_and_theirs_kept(
    kube: KubeCloud, admin_api: KubeApi
) -> None:
    core = kube.core_v1()
    ours = KubeCluster(admin_api)
    read = ours.read_aws_auth()
    assert read is not None
    theirs = (
        f"- rolearn: arn:aws:iam::111122223333:role/ops-{secrets.token_hex(3)}\n  username: ops\n"
    )
    current = raw_json(core.read_namespaced_config_map, "aws-auth", "kube-system")
    data = dict(current.get("data") or {})
    data["mapRoles"] = data.get("mapRoles", "") + theirs
    current["data"] = data
    raw_json(core.replace_namespaced_config_map, "aws-auth", "kube-system", current)

    with pytest.raises(KubernetesConflictError):
        ours.write_aws_auth(
            dict(read.data) | {"mapRoles": "[]\n"}, resource_version=read.resource_version
        )

    after = raw_json(core.read_namespaced_config_map, "aws-auth", "kube-system")
    assert after["data"]["mapRoles"] == data["mapRoles"]
