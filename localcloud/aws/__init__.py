"""The AWS half of the local cloud: moto 5.2.5 over HTTP, extended where our product lives
(lifecycle hooks, instance refresh, EKS access entries, Windows EKS AMIs and their SSM
parameters, STS identities for the token webhook), an EventBridge stand-in and an instance boot
simulator. See ``localcloud/aws/README.md``."""

from localcloud.aws.catalog import AMAZON_OWNER_ID, WindowsEksAmi
from localcloud.aws.clock import SimClock
from localcloud.aws.cloud import AwsCloud, World
from localcloud.aws.events import Chaos, EventBus, LambdaContext, SqsTarget
from localcloud.aws.patterns import matches

__all__ = [
    "AMAZON_OWNER_ID",
    "AwsCloud",
    "Chaos",
    "EventBus",
    "LambdaContext",
    "SimClock",
    "SqsTarget",
    "WindowsEksAmi",
    "World",
    "matches",
]
