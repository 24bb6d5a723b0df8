"""EKS clusters (accessConfig, a real CA), access entries with AWS's rules and errors, Amazon's
Windows EKS AMIs and their public SSM parameters, and the STS identity source of the webhook."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509

from localcloud.aws import AMAZON_OWNER_ID, AwsCloud
from localcloud.aws.identity import assume_instance_role, token_provider
from localcloud.kube import AccessEntryType
from localcloud.kube.token import decode_token
from tests.integration.aws.helpers import Clients

pytestmark = pytest.mark.integration
CORE_2022_131 = (
    "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31"
)


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def new_cluster(aws: AwsCloud, clients: Clients, mode: str | None) -> str:
    name = f"c-{secrets.token_hex(3)}"
    extra: dict[str, Any] = {"accessConfig": {"authenticationMode": mode}} if mode else {}
    clients.eks.create_cluster(
        name=name,
        roleArn=aws.world.cluster_role_arn,
        resourcesVpcConfig={"subnetIds": list(aws.world.subnet_ids)},
        **extra,
    )
    return name


def test_cluster_serves_a_real_ca_and_keeps_access_config(aws: AwsCloud, clients: Clients) -> None:
    cluster = clients.eks.describe_cluster(name=aws.cluster_name)["cluster"]
    pem = base64.b64decode(cluster["certificateAuthority"]["data"])
    assert x509.load_pem_x509_certificate(pem).subject.rfc4514_string() == "CN=kubernetes"
    assert cluster["endpoint"].startswith("https://")
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "10.100.0.0/16"

    name = new_cluster(aws, clients, None)  # the API's default is CONFIG_MAP
    assert clients.eks.describe_cluster(name=name)["cluster"]["accessConfig"] == {
        "authenticationMode": "CONFIG_MAP",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    for mode in ("API_AND_CONFIG_MAP", "API"):
        update = clients.eks.update_cluster_config(
            name=name, accessConfig={"authenticationMode": mode}
        )["update"]
        assert update["type"] == "AccessConfigUpdate"
        assert update["params"] == [{"type": "AuthenticationMode", "value": mode}]
        assert (
            clients.eks.describe_cluster(name=name)["cluster"]["accessConfig"]["authenticationMode"]
            == mode
        )
    with pytest.raises(ClientError) as error:  # one way only
        clients.eks.update_cluster_config(
            name=name, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}
        )
    assert error_code(error) == "InvalidParameterException"


def test_ec2_windows_access_entries_follow_the_eks_rules(aws: AwsCloud, clients: Clients) -> None:
    cluster = new_cluster(aws, clients, "API_AND_CONFIG_MAP")
    role_arn, _ = aws.create_node_role(f"win-{secrets.token_hex(3)}")
    entry = clients.eks.create_access_entry(
        clusterName=cluster, principalArn=role_arn, type="EC2_WINDOWS"
    )["accessEntry"]
    assert entry["type"] == "EC2_WINDOWS"
    assert entry["username"] == "system:node:{{EC2PrivateDNSName}}"
    assert entry["kubernetesGroups"] == []
    assert entry["accessEntryArn"].startswith(
        f"arn:aws:eks:{aws.region}:{aws.account_id}:access-entry/{cluster}/role/"
    )
    described = clients.eks.describe_access_entry(clusterName=cluster, principalArn=role_arn)
    assert described["accessEntry"]["principalArn"] == role_arn
    assert clients.eks.list_access_entries(clusterName=cluster)["accessEntries"] == [role_arn]
    (seen,) = aws.access_entries.access_entries(cluster)
    assert (seen.principal_arn, seen.type) == (role_arn, AccessEntryType.EC2_WINDOWS)

    refusals: list[tuple[dict[str, Any], str]] = [
        ({"principalArn": role_arn, "type": "EC2_WINDOWS"}, "ResourceInUseException"),
        (
            {
                "principalArn": role_arn.replace(aws.account_id, "210987654321"),
                "type": "EC2_WINDOWS",
            },
            "InvalidParameterException",
        ),
        (
            {"principalArn": f"arn:aws:iam::{aws.account_id}:user/alice", "type": "EC2_WINDOWS"},
            "InvalidParameterException",
        ),
        (
            {"principalArn": role_arn, "type": "EC2_WINDOWS", "kubernetesGroups": ["system:nodes"]},
            "InvalidParameterException",
        ),
        (
            {"principalArn": role_arn, "type": "EC2_WINDOWS", "username": "node"},
            "InvalidParameterException",
        ),
        (
            {"principalArn": f"arn:aws:iam::{aws.account_id}:role/missing", "type": "EC2_WINDOWS"},
            "InvalidParameterException",
        ),
    ]
    for arguments, code in refusals:
        with pytest.raises(ClientError) as error:
            clients.eks.create_access_entry(clusterName=cluster, **arguments)
        assert error_code(error) == code, arguments

    clients.eks.delete_access_entry(clusterName=cluster, principalArn=role_arn)
    with pytest.raises(ClientError) as error:
        clients.eks.describe_access_entry(clusterName=cluster, principalArn=role_arn)
    assert error_code(error) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as error:
        clients.eks.list_access_entries(clusterName="no-such-cluster")
    assert error_code(error) == "ResourceNotFoundException"


def test_access_entry_operations_are_refused_while_the_cluster_is_config_map_only(
    aws: AwsCloud, clients: Clients
) -> None:
    role_arn, _ = aws.create_node_role(f"win-{secrets.token_hex(3)}")
    cluster = new_cluster(aws, clients, "CONFIG_MAP")
    calls: dict[str, Any] = {
        "create": lambda: clients.eks.create_access_entry(
            clusterName=cluster, principalArn=role_arn, type="EC2_WINDOWS"
        ),
        "describe": lambda: clients.eks.describe_access_entry(
            clusterName=cluster, principalArn=role_arn
        ),
        "list": lambda: clients.eks.list_access_entries(clusterName=cluster),
        "delete": lambda: clients.eks.delete_access_entry(
            clusterName=cluster, principalArn=role_arn
        ),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as error:
            call()
        assert error_code(error) == "InvalidRequestException", name
        assert "[API, API_AND_CONFIG_MAP]" in error.value.response["Error"]["Message"], name

    clients.eks.update_cluster_config(
        name=cluster, accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}
    )
    assert clients.eks.list_access_entries(clusterName=cluster)["accessEntries"] == []
    with pytest.raises(ClientError) as error:  # the API now exists; the entry does not
        calls["describe"]()
    assert error_code(error) == "ResourceNotFoundException"
    calls["create"]()
    assert clients.eks.list_access_entries(clusterName=cluster)["accessEntries"] == [role_arn]


def test_windows_eks_amis_and_their_public_parameters(aws: AwsCloud, clients: Clients) -> None:
    image_id = clients.ssm.get_parameter(Name=f"{CORE_2022_131}/image_id")["Parameter"]["Value"]
    parent = json.loads(clients.ssm.get_parameter(Name=CORE_2022_131)["Parameter"]["Value"])
    assert parent["image_id"] == image_id
    assert parent["release_version"].startswith("1.31-")
    children = clients.ssm.get_parameters_by_path(Path=CORE_2022_131)["Parameters"]
    assert {p["Name"].rsplit("/", 1)[1] for p in children} >= {"image_id", "image_name"}
    (image,) = clients.ec2.describe_images(ImageIds=[image_id])["Images"]
    assert image["OwnerId"] == AMAZON_OWNER_ID
    assert image["ImageOwnerAlias"] == "amazon"
    assert image["Platform"] == "windows"
    assert image["Name"] == parent["image_name"]
    found = clients.ec2.describe_images(
        Owners=["amazon"],
        Filters=[
            {"Name": "name", "Values": ["Windows_Server-2019-English-Core-EKS_Optimized-1.29-*"]}
        ],
    )["Images"]
    assert len(found) == 1

    released = aws.release_ami(kubernetes_version="1.31", windows_version="2022", edition="Core")
    assert released.image_id != image_id
    assert (
        clients.ssm.get_parameter(Name=f"{CORE_2022_131}/image_id")["Parameter"]["Value"]
        == released.image_id
    )
    history = clients.ssm.get_parameter_history(Name=f"{CORE_2022_131}/image_id")["Parameters"]
    assert [p["Value"] for p in history][-2:] == [image_id, released.image_id]
    with pytest.raises(ClientError):  # public parameters are Amazon's
        clients.ssm.put_parameter(
            Name=f"{CORE_2022_131}/image_id", Value="ami-0", Type="String", Overwrite=True
        )


def test_presigned_tokens_resolve_to_the_instance_role_for_this_cluster_only(
    aws: AwsCloud, clients: Clients
) -> None:
    role_arn = aws.world.node_role_arn
    creds = assume_instance_role(
        account_id=aws.account_id, region=aws.region, instance_id="i-0abc", role_arn=role_arn
    )
    provide = token_provider(
        creds, cluster_name="prod", region=aws.region, endpoint_url=aws.endpoint_url
    )
    request = decode_token(provide())
    assert request.host in aws.allowed_sts_hosts
    source = aws.identity_source
    role_name = role_arn.rsplit("/", 1)[1]
    assert source.caller_arn(request, cluster_name="prod") == (
        f"arn:aws:sts::{aws.account_id}:assumed-role/{role_name}/i-0abc"
    )
    # x-k8s-aws-id is signed: the token is worthless for another cluster.
    assert source.caller_arn(request, cluster_name="other") is None
    # The same caller, seen by moto's STS over HTTP with those credentials.
    sts = __import__("boto3").client(
        "sts",
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
    )
    assert sts.get_caller_identity()["Arn"] == creds.arn
    # Unknown keys are refused.
    forged = token_provider(
        creds.__class__("AKIAFORGED0000000000", "x", "", "arn", role_arn),
        cluster_name="prod",
        region=aws.region,
        endpoint_url=aws.endpoint_url,
    )
    assert source.caller_arn(decode_token(forged()), cluster_name="prod") is None


def test_lambda_context_and_sqs_targets_and_chaos(aws: AwsCloud, clients: Clients) -> None:
    from localcloud.aws import Chaos, SqsTarget

    assert aws.events is not None
    queue = clients.sqs.create_queue(QueueName=f"q-{secrets.token_hex(3)}")["QueueUrl"]
    rule = f"sqs-{secrets.token_hex(3)}"
    aws.events.put_rule(
        rule, event_pattern={"source": ["custom.test"], "detail": {"n": [{"numeric": [">", 0]}]}}
    )
    aws.events.put_target(rule, SqsTarget(queue))
    aws.events.set_chaos(Chaos(duplicate=1.0, max_delay=5, seed=7))
    try:
        aws.events.put_events(
            [
                {"Source": "custom.test", "DetailType": "t", "Detail": json.dumps({"n": n})}
                for n in (0, 1, 2)
            ]
        )
        bodies: list[dict[str, Any]] = []

        def received() -> bool:
            for message in clients.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                bodies.append(json.loads(message["Body"]))
            return len(bodies) >= 4

        from tests.helpers.waiting import wait_for

        wait_for(received, message="4 deliveries (2 events, each duplicated)")
    finally:
        aws.events.set_chaos(Chaos())
    assert sorted(b["detail"]["n"] for b in bodies) == [1, 1, 2, 2]
    assert {b["account"] for b in bodies} == {aws.account_id}
