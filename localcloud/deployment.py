"""The product deployed onto the local cloud, as `sam deploy` plus the cluster set-up would: the
functions' identity an assumed IAM role mapped into the cluster (aws-auth or an access entry)
and bound to the RBAC in winnodes.rbac (ClusterRole, kube-system Role, the smoke-test namespace
and its Role); the handlers loaded from functions/<name>/app.py with the environment the
template gives them. Tests, benchmarks and the demo use it."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from localcloud.aws import AwsCloud
from localcloud.aws.cloud import Clients
from localcloud.aws.events import LambdaContext
from localcloud.kube import KubeCloud, Timing
from localcloud.kube.clients import allowed
from localcloud.kube.waiting import wait_until
from winnodes import rbac, wiring
from winnodes.userdata import bootstrap_settings, encode_userdata, render_userdata

if TYPE_CHECKING:
    from mypy_boto3_eks.literals import AuthenticationModeType
    from mypy_boto3_sts.type_defs import CredentialsTypeDef

LAUNCH = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATE = "autoscaling:EC2_INSTANCE_TERMINATING"
# The resource (collection) name of each kind winnodes.rbac ships.
_RESOURCES = {
    "Namespace": "namespaces",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles",
    "RoleBinding": "rolebindings",
}


FUNCTIONS = Path(__file__).parents[1] / "functions"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(name: str) -> Handler:
    """`lambda_handler` of functions/<name>/app.py, loaded and answering the way the Lambda
    runtime does: the response is marshalled to JSON, and one that cannot be fails the
    invocation (Runtime.MarshalError) although the handler returned."""
    path = FUNCTIONS / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"functions_{name}_app", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.lambda_handler

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response = handler(event, context)
        try:
            marshalled = json.dumps(response)
        except (TypeError, ValueError) as error:
            raise RuntimeError(f"Runtime.MarshalError: {name} response: {error}") from error
        answer: dict[str, Any] = json.loads(marshalled)
        return answer

    return invoke


# Each function's Timeout in template.yaml (a test keeps the two in step).
FUNCTION_TIMEOUT_SECONDS = {"lifecycle": 900.0, "reconcile": 180.0}


def lambda_context(function_name: str, *, timeout_seconds: float | None = None) -> LambdaContext:
    """A fresh invocation's context: the whole of the function's timeout still ahead."""
    if timeout_seconds is None:
        timeout_seconds = FUNCTION_TIMEOUT_SECONDS[function_name]
    return LambdaContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        timeout_seconds=timeout_seconds,
        _deadline=time.monotonic() + timeout_seconds,
    )


@dataclass
class Product:
    """The deployed functions, as the local cloud sees them."""

    aws: AwsCloud
    kube: KubeCloud
    env: dict[str, str]
    function_role_arn: str
    lifecycle: Handler
    reconcile: Handler

    @property
    def client(self) -> Clients:
        return self.aws.client

    def configure(self, **settings: str) -> None:
        """Change the functions' environment (as a redeploy would) and start cold."""
        os.environ.update(settings)
        wiring.reset()

    def tick(self, *, time_left: float | None = None) -> dict[str, Any]:
        """One scheduled reconciler run, with `time_left` seconds of its invocation ahead
        (the function's whole timeout unless given)."""
        return self.reconcile(
            {"source": "aws.events", "detail-type": "Scheduled Event"},
            lambda_context("reconcile", timeout_seconds=time_left),
        )

    def user_data(self, **override: str) -> str:
        cluster = self.client("eks").describe_cluster(name=self.aws.cluster_name)["cluster"]
        settings = bootstrap_settings(
            cluster_name=override.get("cluster", self.aws.cluster_name),
            endpoint=override.get("endpoint", cluster["endpoint"]),
            ca_base64=override.get("ca", cluster["certificateAuthority"]["data"]),
            service_cidr=cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"],
        )
        return encode_userdata(render_userdata(settings))

    def make_group(
        self,
        *,
        desired: int,
        profile_arn: str,
        managed: bool = True,
        heartbeat: int = 600,
        user_data: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        name = f"win-{secrets.token_hex(3)}"
        ec2, autoscaling, ssm = self.client("ec2"), self.client("autoscaling"), self.client("ssm")
        ami = ssm.get_parameter(
            Name="/aws/service/ami-windows-latest/"
            "Windows_Server-2022-English-Core-EKS_Optimized-1.31/image_id"
        )["Parameter"]["Value"]
        template = ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={
                "ImageId": ami,
                "InstanceType": "m5.large",
                "UserData": user_data or self.user_data(),
                "IamInstanceProfile": {"Arn": profile_arn},
            },
        )["LaunchTemplate"]
        group_tags = [{"Key": f"kubernetes.io/cluster/{self.aws.cluster_name}", "Value": "owned"}]
        if managed:
            group_tags.append({"Key": "eks-windows-nodes/managed", "Value": "true"})
        group_tags.extend({"Key": k, "Value": v} for k, v in (tags or {}).items())
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=desired,
            LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "1"},
            VPCZoneIdentifier=",".join(self.aws.world.subnet_ids),
            LifecycleHookSpecificationList=[
                {
                    "LifecycleHookName": name,
                    "LifecycleTransition": transition,
                    "HeartbeatTimeout": heartbeat,
                    "DefaultResult": "ABANDON" if transition == LAUNCH else "CONTINUE",
                }
                for name, transition in (("join", LAUNCH), ("leave", TERMINATE))
            ],
            Tags=[
                {
                    "Key": t["Key"],
                    "Value": t["Value"],
                    "PropagateAtLaunch": False,
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                }
                for t in group_tags
            ],
        )
        return name


@contextmanager
def deploy(
    *, authentication_mode: AuthenticationModeType = "API_AND_CONFIG_MAP"
) -> Iterator[Product]:
    """Both halves of the local cloud with the product deployed; everything stops on exit."""
    saved = dict(os.environ)
    # Real time on the AWS side: the functions measure deadlines with the wall clock.
    with (
        AwsCloud(
            time_scale=1.0, timing=Timing.fast(), authentication_mode=authentication_mode
        ) as aws,
        KubeCloud(
            cluster_name=aws.cluster_name,
            region=aws.region,
            identity_source=aws.identity_source,
            access_entries=aws.access_entries,
            allowed_sts_hosts=aws.allowed_sts_hosts,
            timing=Timing.fast(),
        ) as kube,
    ):
        aws.attach(kube)
        role_arn, credentials = _function_identity(aws)
        _grant(kube, role_arn, uses_access_entries=authentication_mode != "CONFIG_MAP", aws=aws)
        env = {
            **aws.env(),
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "POWERTOOLS_METRICS_NAMESPACE": "EksWindowsNodes",
            "JOIN_WAIT_BUDGET_SECONDS": "30",
            "JOIN_POLL_SECONDS": "0.2",
            "JOIN_DEADLINE_SECONDS": "1200",
        }
        product = Product(
            aws=aws,
            kube=kube,
            env=env,
            function_role_arn=role_arn,
            lifecycle=load_handler("lifecycle"),
            reconcile=load_handler("reconcile"),
        )
        product.configure(**env)
        try:
            yield product
        finally:
            os.environ.clear()
            os.environ.update(saved)
            wiring.reset()


def collection_path(manifest: dict[str, Any]) -> str:
    """Where a manifest is POSTed: its API group and version, its namespace when it has one."""
    api_version = manifest["apiVersion"]
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    namespace = manifest["metadata"].get("namespace")
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{root}{scope}/{_RESOURCES[manifest['kind']]}"


def _function_identity(aws: AwsCloud) -> tuple[str, CredentialsTypeDef]:
    iam, sts = aws.client("iam"), aws.client("sts")
    role = iam.create_role(
        RoleName="eks-windows-nodes-functions",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            }
        ),
    )["Role"]
    credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="lifecycle")["Credentials"]
    return role["Arn"], credentials


def _grant(kube: KubeCloud, role_arn: str, *, uses_access_entries: bool, aws: AwsCloud) -> None:
    api = kube.api_client()
    for manifest in rbac.MANIFESTS:
        api.call_api(
            collection_path(manifest),
            "POST",
            body=manifest,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
    # The functions act right after deploy; RBAC counts a new binding once its cache has it.
    for role in (m for m in rbac.MANIFESTS if m["kind"] in {"Role", "ClusterRole"}):
        rule = role["rules"][0]
        wait_until(
            functools.partial(
                allowed,
                api,
                groups=(rbac.FUNCTIONS_GROUP,),
                verb=rule["verbs"][0],
                resource=rule["resources"][0],
                api_group=rule["apiGroups"][0],
                namespace=role["metadata"].get("namespace"),
                name=(rule.get("resourceNames") or [None])[0],
            ),
            message=f"the binding of {role['kind']} {role['metadata']['name']} to take effect",
        )
    if uses_access_entries:
        aws.client("eks").create_access_entry(
            clusterName=aws.cluster_name,
            principalArn=role_arn,
            type="STANDARD",
            username="eks-windows-nodes",
            kubernetesGroups=[rbac.FUNCTIONS_GROUP],
        )
        return
    # CONFIG_MAP clusters: the operator maps the functions' role (and others have theirs).
    aws_auth = {
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {
            "mapRoles": (
                f"- rolearn: {role_arn}\n  username: eks-windows-nodes\n"
                f"  groups:\n  - {rbac.FUNCTIONS_GROUP}\n"
                "# break-glass access for the on-call team\n"
                "- rolearn: arn:aws:iam::111122223333:role/ops-admins\n"
                "  username: ops:{{SessionName}}\n  groups:\n  - system:masters\n"
            ),
            "mapUsers": (
                "- userarn: arn:aws:iam::111122223333:user/alice\n"
                "  username: alice\n  groups:\n  - viewers\n"
            ),
            "mapAccounts": '- "444455556666"\n',
            "x-operator-note": "do not remove",
        },
    }
    kube.core_v1().create_namespaced_config_map("kube-system", aws_auth)
