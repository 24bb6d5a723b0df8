"""Ec2Instances.describe_instances against EC2 over HTTP: it names the instances (InstanceIds),
and an id EC2 does not know, which fails the whole call, is left out instead of failing it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from botocore.stub import Stubber

from localcloud.aws import AwsCloud
from tests.integration.aws.helpers import (
    NOT_FOUND_NAMING_NONE_ASKED,
    OTHER_UNKNOWN,
    UNKNOWN,
    Clients,
    ec2_requests,
)
from winnodes.adapters.ec2 import Ec2Instances
from winnodes.errors import AwsError
from winnodes.ports import InstancePlatform

WINDOWS_AMI = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.31"


@pytest.fixture
def describe_calls(clients: Clients) -> Iterator[list[list[str]]]:
    """The InstanceIds of every DescribeInstances request the test's EC2 client sends."""
    with ec2_requests(clients.ec2, "DescribeInstances", "InstanceIds") as calls:
        yield calls


def launch(aws: AwsCloud, clients: Clients, count: int, *, windows: bool = True) -> list[str]:
    if windows:
        image = clients.ssm.get_parameter(Name=f"{WINDOWS_AMI}/image_id")["Parameter"]["Value"]
    else:
        image = clients.ec2.describe_images(
            Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-*"]}]
        )["Images"][0]["ImageId"]
    launched = clients.ec2.run_instances(
        ImageId=image,
        MinCount=count,
        MaxCount=count,
        InstanceType="m5.large",
        SubnetId=aws.world.subnet_ids[0],
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "windows"}]}
        ],
    )
    return [i["InstanceId"] for i in launched["Instances"]]


def launch_times(clients: Clients, instance_ids: list[str]) -> dict[str, datetime]:
    found = clients.ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {raw["InstanceId"]: raw["LaunchTime"] for r in found for raw in r["Instances"]}


def test_known_instances_are_described(
    aws: AwsCloud, clients: Clients, describe_calls: list[list[str]]
) -> None:
    windows = launch(aws, clients, 2)
    linux = launch(aws, clients, 1, windows=False)
    ids = [*windows, *linux]
    expected_launch = launch_times(clients, ids)
    describe_calls.clear()

    found = Ec2Instances(clients.ec2, clients.iam).describe_instances(ids)

    assert describe_calls == [ids]
    assert sorted(found) == sorted(ids)
    for instance_id in ids:
        instance = found[instance_id]
        assert instance.instance_id == instance_id
        assert instance.state == "running"
        assert instance.tags == {"team": "windows"}
        assert instance.launch_time == expected_launch[instance_id]
        assert instance.availability_zone == "us-east-1a"
    assert [found[i].platform for i in ids] == [
        InstancePlatform.WINDOWS,
        InstancePlatform.WINDOWS,
        InstancePlatform.LINUX,
    ]


def test_an_unknown_instance_is_left_out_and_the_others_asked_for_again(
    aws: AwsCloud, clients: Clients, describe_calls: list[list[str]]
) -> None:
    known = launch(aws, clients, 2)

    found = Ec2Instances(clients.ec2, clients.iam).describe_instances([known[0], UNKNOWN, known[1]])

    assert sorted(found) == sorted(known)
    assert describe_calls == [[known[0], UNKNOWN, known[1]], known]


def test_several_unknown_instances_are_left_out(
    aws: AwsCloud, clients: Clients, describe_calls: list[list[str]]
) -> None:
    known = launch(aws, clients, 2)
    asked = [UNKNOWN, known[0], OTHER_UNKNOWN, known[1]]

    found = Ec2Instances(clients.ec2, clients.iam).describe_instances(asked)

    assert sorted(found) == sorted(known)
    # moto names one unknown id per answer (AWS names them all): one more call per unknown id.
    assert describe_calls[0] == asked
    assert describe_calls[-1] == known
    assert len(describe_calls) == 3


def test_only_unknown_instances_give_nothing(
    clients: Clients, describe_calls: list[list[str]]
) -> None:
    found = Ec2Instances(clients.ec2, clients.iam).describe_instances([UNKNOWN, OTHER_UNKNOWN])

    assert found == {}
    assert len(describe_calls) == 2
    assert describe_calls[0] == [UNKNOWN, OTHER_UNKNOWN]


def test_a_terminated_instance_is_described_as_terminating(
    aws: AwsCloud, clients: Clients, describe_calls: list[list[str]]
) -> None:
    gone, alive = launch(aws, clients, 2)
    clients.ec2.terminate_instances(InstanceIds=[gone])
    describe_calls.clear()

    found = Ec2Instances(clients.ec2, clients.iam).describe_instances([gone, alive])

    # EC2 still shows a terminated instance for a while: the join tells it from one not shown
    # yet, and ABANDONs its launch at once instead of waiting for it to appear.
    assert sorted(found) == sorted([gone, alive])
    assert found[gone].state == "terminated" and found[gone].terminating
    assert found[alive].state == "running" and not found[alive].terminating
    assert describe_calls == [[gone, alive]]


def test_each_instance_is_asked_for_once(
    aws: AwsCloud, clients: Clients, describe_calls: list[list[str]]
) -> None:
    (instance_id,) = launch(aws, clients, 1)

    found = Ec2Instances(clients.ec2, clients.iam).describe_instances([instance_id, instance_id])

    assert list(found) == [instance_id]
    assert describe_calls == [[instance_id]]


def test_no_instances_need_no_call(clients: Clients, describe_calls: list[list[str]]) -> None:
    assert Ec2Instances(clients.ec2, clients.iam).describe_instances([]) == {}
    assert describe_calls == []


# moto never names several ids in one DescribeInstances answer, nor answers with a NotFound that
# names none of them, nor fails DescribeInstances otherwise: these answers are stubbed on a client
# of the same cloud (botocore's Stubber answers before anything is sent).


@pytest.fixture
def stubbed(aws: AwsCloud) -> Iterator[tuple[Stubber, Ec2Instances]]:
    ec2 = aws.client("ec2")
    with Stubber(ec2) as stubber:
        yield stubber, Ec2Instances(ec2, aws.client("iam"))
        stubber.assert_no_pending_responses()


def stub_not_found(stubber: Stubber, asked: list[str], message: str) -> None:
    stubber.add_client_error(
        "describe_instances",
        service_error_code="InvalidInstanceID.NotFound",
        service_message=message,
        http_status_code=400,
        expected_params={"InstanceIds": asked},
    )


def test_all_the_unknown_ids_aws_names_are_left_out_at_once(
    stubbed: tuple[Stubber, Ec2Instances],
) -> None:
    stubber, compute = stubbed
    known = "i-0aaaaaaaaaaaaaaaa"
    stub_not_found(
        stubber,
        [UNKNOWN, known, OTHER_UNKNOWN],
        f"The instance IDs '{UNKNOWN}, {OTHER_UNKNOWN}' do not exist",
    )
    stubber.add_response(
        "describe_instances",
        {
            "Reservations": [
                {
                    "Instances": [
                        {
                            "InstanceId": known,
                            "LaunchTime": datetime(2025, 1, 2, 3, 4, 5),
                            "Platform": "windows",
                            "State": {"Code": 16, "Name": "running"},
                        }
                    ]
                }
            ]
        },
        expected_params={"InstanceIds": [known]},
    )

    found = compute.describe_instances([UNKNOWN, known, OTHER_UNKNOWN])

    assert list(found) == [known]
    assert found[known].platform is InstancePlatform.WINDOWS


@pytest.mark.parametrize("message", NOT_FOUND_NAMING_NONE_ASKED)
def test_a_not_found_naming_none_of_the_ids_is_an_error(
    stubbed: tuple[Stubber, Ec2Instances], message: str
) -> None:
    stubber, compute = stubbed
    stub_not_found(stubber, [UNKNOWN], message)

    with pytest.raises(AwsError, match="DescribeInstances failed"):
        compute.describe_instances([UNKNOWN])


def test_any_other_failure_is_an_error(stubbed: tuple[Stubber, Ec2Instances]) -> None:
    stubber, compute = stubbed
    stubber.add_client_error(
        "describe_instances",
        service_error_code="UnauthorizedOperation",
        service_message="You are not authorized to perform this operation.",
        http_status_code=403,
        expected_params={"InstanceIds": [UNKNOWN]},
    )

    with pytest.raises(AwsError, match="UnauthorizedOperation"):
        compute.describe_instances([UNKNOWN])
