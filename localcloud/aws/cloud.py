"""``AwsCloud``: moto over HTTP on 127.0.0.1 with our extensions, the event bus, the boot
simulator, Amazon's Windows EKS AMIs and a ready account (VPC, roles, an EKS cluster)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import boto3
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from localcloud.aws import patches
from localcloud.aws.amis import AmiPublisher
from localcloud.aws.autoscaling import STATE_LOCK, AsgEngine
from localcloud.aws.boot import BootSimulator
from localcloud.aws.catalog import WindowsEksAmi
from localcloud.aws.clock import SimClock
from localcloud.aws.eks import EksState, MotoAccessEntries
from localcloud.aws.events import EventBus
from localcloud.aws.identity import MotoIdentitySource
from localcloud.kube import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLUSTER_NAME,
    AuthenticationMode,
    KubeCloud,
    Timing,
)
from localcloud.running import Running

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_eks import EKSClient
    from mypy_boto3_eks.literals import AuthenticationModeType
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient

log = logging.getLogger("localcloud.aws")

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
NODE_ROLE_NAME = "localcloud-windows-node"
CLUSTER_ROLE_NAME = "localcloud-eks-cluster"
SERVICE_CIDR = "10.100.0.0/16"
TICK_SECONDS = 0.02
# The services the local cloud serves to its callers (boto3's stubs type all but SQS).
Service = Literal["autoscaling", "ec2", "eks", "iam", "ssm", "sts", "sqs"]


class Clients(Protocol):
    """A boto3 client for a service of the local cloud, typed by the service's name."""

    @overload
    def __call__(self, service: Literal["autoscaling"]) -> AutoScalingClient: ...
    @overload
    def __call__(self, service: Literal["ec2"]) -> EC2Client: ...
    @overload
    def __call__(self, service: Literal["eks"]) -> EKSClient: ...
    @overload
    def __call__(self, service: Literal["iam"]) -> IAMClient: ...
    @overload
    def __call__(self, service: Literal["ssm"]) -> SSMClient: ...
    @overload
    def __call__(self, service: Literal["sts"]) -> STSClient: ...
    @overload
    def __call__(self, service: Literal["sqs"]) -> Any: ...


@dataclass(frozen=True)
class World:
    """What ``start`` creates in the account: network, roles, the cluster."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_id: str
    cluster_role_arn: str
    node_role_arn: str
    node_instance_profile_arn: str
    node_instance_profile_name: str
    kubernetes_version: str


class AwsCloud(Running):
    """The AWS half of the local cloud. ``start()`` → moto at ``endpoint_url``; ``attach(kube)``
    once the Kubernetes half runs; ``stop()``. One per process (moto's state is global)."""

    def __init__(
        self,
        *,
        cluster_name: str = DEFAULT_CLUSTER_NAME,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        timing: Timing | None = None,
        work_dir: Path | None = None,
        time_scale: float | None = None,
        kubernetes_version: str = "1.31",
        authentication_mode: AuthenticationModeType = "API_AND_CONFIG_MAP",
        cluster_endpoint: str | None = None,
        cluster_ca_data: str | None = None,
        create_cluster: bool = True,
    ) -> None:
        self.cluster_name = cluster_name
        self.region = region
        self.account_id = account_id
        self.timing = timing or Timing()
        self.work_dir = work_dir
        self.clock = SimClock(time_scale if time_scale is not None else self.timing.time_scale)
        self.kubernetes_version = kubernetes_version
        self.authentication_mode = authentication_mode
        self._create_cluster = create_cluster
        self.identity_source = MotoIdentitySource(account_id=account_id, region=region)
        self.eks = EksState(account_id=account_id, region=region)
        self.access_entries = MotoAccessEntries(self.eks)
        self.amis = AmiPublisher(account_id=account_id, region=region)
        self.allowed_sts_hosts: frozenset[str] = frozenset()
        self._events: EventBus | None = None
        self._engine: AsgEngine | None = None
        self._boot: BootSimulator | None = None
        self._world: World | None = None
        self.kube: KubeCloud | None = None
        self._server: ThreadedMotoServer | None = None
        self._endpoint_url: str | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._placeholder = (
            cluster_endpoint
            or f"https://{secrets.token_hex(16).upper()}.gr7.{region}.eks.amazonaws.com",
            cluster_ca_data or _self_signed_ca_data(),
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> AwsCloud:
        patches.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_api_backend.reset()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        self.allowed_sts_hosts = frozenset({f"{host}:{port}", f"localhost:{port}"})
        events = self._events = EventBus(
            account_id=self.account_id,
            region=self.region,
            clock=self.clock,
            sqs_send=self._send_sqs,
        ).start()
        boot = self._boot = BootSimulator(
            account_id=self.account_id,
            region=self.region,
            cluster_name=self.cluster_name,
            endpoint_url=self._endpoint_url,
        )
        engine = self._engine = AsgEngine(
            account_id=self.account_id,
            region=self.region,
            clock=self.clock,
            publish=events.publish,
            on_launch=boot.on_launch,
            on_terminate=boot.on_terminate,
            on_stop=boot.on_stop,
        )
        self.eks.api_servers["*"] = self._placeholder
        self.eks.on_mode_change = self._mode_changed
        try:
            patches.activate(patches.Active(engine=engine, eks=self.eks))
            with STATE_LOCK:
                self.amis.publish_catalog()
            self._world = self._create_world()
        except BaseException:
            self.stop()
            raise
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="localcloud-aws-clock", daemon=True)
        self._ticker.start()
        return self

    def attach(self, kube: KubeCloud) -> None:
        """The Kubernetes half runs: EKS serves its endpoint and CA; booted instances get
        kubelets; UpdateClusterConfig's authentication mode reaches its webhook."""
        self.kube = kube
        with STATE_LOCK:
            self.eks.set_api_server(self.cluster_name, endpoint=kube.endpoint, ca_data=kube.ca_data)
            self.boot.attach(kube.nodes)
            cluster = self.eks.backend.clusters.get(self.cluster_name)
            if cluster is not None:
                self._mode_changed(
                    self.cluster_name, self.eks.authentication_mode(self.cluster_name)
                )

    def env(self) -> Mapping[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **CREDENTIALS,
            "LOCALCLOUD_AWS_ACCOUNT_ID": self.account_id,
        }

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        if self._events is not None:
            self._events.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if patches.ACTIVE is not None and patches.ACTIVE.engine is self._engine:
            patches.activate(None)

    # -- conveniences ---------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return _started(self._endpoint_url)

    @property
    def events(self) -> EventBus:
        """The EventBridge default bus."""
        return _started(self._events)

    @property
    def engine(self) -> AsgEngine:
        """Capacity, lifecycle hooks and instance refresh of the account's groups."""
        return _started(self._engine)

    @property
    def boot(self) -> BootSimulator:
        """What launched instances do with their user data."""
        return _started(self._boot)

    @property
    def world(self) -> World:
        """The network, roles and cluster ``start`` created."""
        return _started(self._world)

    @property
    def client(self) -> Clients:
        """Plain boto3 clients against this cloud (real HTTP), typed per service."""
        return self._client

    def _client(self, service: Service) -> Any:
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def release_ami(
        self,
        *,
        kubernetes_version: str | None = None,
        windows_version: str = "2022",
        edition: str = "Core",
        release: dt.date | None = None,
    ) -> WindowsEksAmi:
        """AWS publishes a new EKS-optimized Windows AMI: new image + SSM parameters updated."""
        with STATE_LOCK:
            return self.amis.release(
                kubernetes_version=kubernetes_version or self.kubernetes_version,
                windows_version=windows_version,
                edition=edition,
                release=release,
            )

    def create_node_role(self, name: str, *, path: str = "/") -> tuple[str, str]:
        """An EC2 role (under IAM `path`) with an instance profile of the same name:
        (role ARN, profile ARN)."""
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(_trust("ec2.amazonaws.com")),
        )["Role"]
        profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        return role["Arn"], profile["Arn"]

    # -- internals ----------------------------------------------------------------------------

    def _create_world(self) -> World:
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = []
        # /20s, as real node subnets are: benchmarks launch hundreds of instances.
        for i, az in enumerate(("a", "b")):
            subnet = ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.0.{16 * (i + 1)}.0/20",
                AvailabilityZone=f"{self.region}{az}",
            )["Subnet"]["SubnetId"]
            subnets.append(subnet)
        sg = ec2.create_security_group(
            GroupName="localcloud-nodes", Description="Windows nodes", VpcId=vpc
        )["GroupId"]
        iam = self.client("iam")
        cluster_role = iam.create_role(
            RoleName=CLUSTER_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(_trust("eks.amazonaws.com")),
        )["Role"]["Arn"]
        node_role, profile = self.create_node_role(NODE_ROLE_NAME)
        if self._create_cluster:
            self.client("eks").create_cluster(
                name=self.cluster_name,
                version=self.kubernetes_version,
                roleArn=cluster_role,
                resourcesVpcConfig={
                    "subnetIds": subnets,
                    "securityGroupIds": [sg],
                    "endpointPrivateAccess": True,
                    "endpointPublicAccess": False,
                },
                kubernetesNetworkConfig={"serviceIpv4Cidr": SERVICE_CIDR, "ipFamily": "ipv4"},
                accessConfig={"authenticationMode": self.authentication_mode},
            )
        return World(
            vpc_id=vpc,
            subnet_ids=tuple(subnets),
            security_group_id=sg,
            cluster_role_arn=cluster_role,
            node_role_arn=node_role,
            node_instance_profile_arn=profile,
            node_instance_profile_name=NODE_ROLE_NAME,
            kubernetes_version=self.kubernetes_version,
        )

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                with STATE_LOCK:
                    if self._engine is not None:
                        self._engine.tick()
            except Exception:  # keep the clock running; the failure is logged
                log.exception("autoscaling tick failed")

    def _mode_changed(self, cluster_name: str, mode: str) -> None:
        if self.kube is not None and cluster_name == self.cluster_name:
            self.kube.authenticator.mode = AuthenticationMode(mode)

    def _send_sqs(self, queue_url: str, body: str) -> None:
        self.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)


def _started[T](part: T | None) -> T:
    if part is None:
        raise RuntimeError("AwsCloud not started")
    return part


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def _self_signed_ca_data() -> str:
    """A real CA certificate (PEM, base64) for clusters no kube-apiserver stands behind."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()
