"""`winnodes`: every capability by hand, without Docker, against any endpoint
(AWS_ENDPOINT_URL points boto3 at the local cloud).

stdout carries a command's result alone, so that it can be piped (`winnodes reconcile | jq`);
logs, and anything a library print()s, go to stderr."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from winnodes import __version__, rbac, wiring
from winnodes.config import Settings, log_level_from_env
from winnodes.decisions.smoke import DEFAULT_SMOKE_TEST_NAMESPACE, smoke_test_namespace_problem
from winnodes.errors import ConfigurationError, InvalidInputError, WinNodesError
from winnodes.models.events import (
    LifecycleEvent,
    LifecycleTestNotification,
    classify_lifecycle_event,
)
from winnodes.models.identifiers import is_region_name
from winnodes.observability import logger
from winnodes.services.lifecycle import skipped_test_notification
from winnodes.services.userdata import UserdataRequest, settings_for
from winnodes.userdata import encode_userdata, render_userdata
from winnodes.userdata.settings import parse_cidr_list, parse_node_labels, parse_taints

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C

_LOGS = (
    "Logs are JSON lines on stderr; POWERTOOLS_LOG_LEVEL (or LOG_LEVEL) sets their level "
    "(DEBUG, INFO, WARNING, ERROR or CRITICAL; default INFO)."
)
# A lifecycle action left half-way stays pending; the scheduled reconciler drives it on.
_INTERRUPTED_ACTION = "interrupted; the reconciler finishes what was started"
_CHANGES = (
    "This changes the cluster and the account: it tags instances, creates EKS access entries "
    "or writes kube-system/aws-auth, patches kube-system/amazon-vpc-cni, runs smoke pods when "
    "SMOKE_TEST_ENABLED is true, cordons Nodes and evicts their pods, deletes Nodes, and "
    "completes lifecycle actions: CONTINUE, or ABANDON, which terminates the instance. "
    "Settings come from this environment, not from the deployed function's: export "
    "NODE_ROLE_ARNS as the stack's NodeRoleArns (unset, roles of the cluster's own account "
    "are authorized)."
)
_LIFECYCLE_BLOCKS = (
    "It waits for a launched node to be Ready for up to JOIN_WAIT_BUDGET_SECONDS "
    f"(default {Settings.join_wait_budget.total_seconds():.0f} s), and for a terminating node's "
    f"pods to leave for up to DRAIN_WAIT_BUDGET_SECONDS (default "
    f"{Settings.drain_wait_budget.total_seconds():.0f} s); the reconciler finishes what is left."
)
_RECONCILE_BLOCKS = (
    "It takes the steps that take effect at once (tags, node role, Windows IPAM) and never "
    "waits for a node, so a pass lasts as long as its AWS and Kubernetes calls."
)
_REGION_HELP = "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)"


@dataclass(frozen=True)
class CommandResult:
    output: str
    status: int = EXIT_OK


class OptionError(InvalidInputError):
    """Invalid input in an option or the event, reported against it with exit status 2. An
    InvalidInputError raised by the work itself (a value AWS returned, such as an instance
    profile's role) is a failure like any other: exit status 1."""


@contextlib.contextmanager
def _operator_input() -> Iterator[None]:
    """What runs inside reads only what the operator gave: its InvalidInputError names it."""
    try:
        yield
    except ConfigurationError:
        raise
    except InvalidInputError as error:
        raise OptionError(error.field, error.reason) from None


# Options whose value is other programs' arguments, which start with "--": argparse would take
# `--kubelet-extra-args --v=2` for two options and refuse it; `--kubelet-extra-args=--v=2` it
# reads. The value that follows one of them is its value, whatever it starts with.
ARGUMENT_OPTIONS: Final = ("--kubelet-extra-args", "--kube-proxy-extra-args")


def _with_argument_values_attached(argv: Sequence[str]) -> list[str]:
    attached: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":  # the rest is positional
            attached += [word, *words]
            break
        value = next(words, None) if word in ARGUMENT_OPTIONS else None
        attached.append(word if value is None else f"{word}={value}")
    return attached


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(_with_argument_values_attached(sys.argv[1:] if argv is None else argv))
    try:
        log_level_from_env(os.environ)  # the logger fell back to INFO; every command logs
        with _diagnostics_to_stderr():
            result: CommandResult = args.run(args)
    except ConfigurationError as error:
        _print_error(str(error))
        return EXIT_USAGE
    except OptionError as error:
        _print_error(f"--{error.field}: {error.reason}")
        return EXIT_USAGE
    except WinNodesError as error:
        _print_error(str(error))
        return EXIT_FAILURE
    except KeyboardInterrupt as interrupt:
        _release_quietly(interrupt)
        print(f"winnodes: {args.interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        sys.stdout.write(result.output)
        sys.stdout.flush()
    except OSError as error:  # a closed pipe, a full disk: the work, if any, is done
        _print_error(f"cannot write the output: {error.strerror or error}")
        # Python's own flush at exit would fail again, with a traceback-like "Exception ignored".
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    return result.status


def _release_quietly(interrupt: KeyboardInterrupt) -> None:
    """Frees what the interrupt's frames hold, printing nothing: an object Ctrl-C cut short in
    its construction (an http.client response before it kept its socket) fails in its __del__,
    and Python would print that traceback after the one line."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _: None
    try:
        traceback.clear_frames(interrupt.__traceback__)
    finally:
        sys.unraisablehook = hook


def _print_error(message: str) -> None:
    """One line: what follows the first is a server's page quoted by botocore (a non-AWS
    AWS_ENDPOINT_URL answering HTML), which the logs of a function keep in full."""
    lines = message.strip().splitlines() or [""]
    print(f"winnodes: error: {lines[0]}", file=sys.stderr)


@contextlib.contextmanager
def _diagnostics_to_stderr() -> Iterator[None]:
    """While a command runs, logs and anything print()ed (Powertools flushes EMF metrics with
    print) go to stderr. The logger's handler holds the stdout of import time, as the Lambda
    handlers want; it is given that stream back afterwards, so they still log to stdout."""
    with contextlib.ExitStack() as restore:
        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            previous = handler.setStream(sys.stderr)
            if previous is not None:
                restore.callback(handler.setStream, previous)
        restore.enter_context(contextlib.redirect_stdout(sys.stderr))
        yield


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winnodes",
        description="Hands-off lifecycle for self-managed Windows nodes of Amazon EKS clusters.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(interrupted="interrupted")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_render_userdata(commands)
    _add_lifecycle(commands)
    _add_reconcile(commands)
    _add_rbac(commands)
    return parser


def _add_lifecycle(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lifecycle = commands.add_parser(
        "lifecycle",
        help="handle one lifecycle event, as the lifecycle function does",
        description=(
            "Handle one EventBridge lifecycle event (launch: join the node; terminate: drain "
            "it) exactly as the lifecycle function does, against AWS_ENDPOINT_URL or AWS. "
            "Prints the outcome as JSON on stdout; a rejected event exits with status 2."
        ),
        epilog=f"{_CHANGES} {_LIFECYCLE_BLOCKS} {_LOGS}",
    )
    lifecycle.add_argument(
        "--event",
        "-e",
        required=True,
        metavar="FILE",
        help="event JSON (see events/); - reads it from stdin",
    )
    lifecycle.add_argument(
        "--region", help="AWS region; the event's own, the default, is the only one accepted"
    )
    lifecycle.set_defaults(run=_lifecycle)


def _add_reconcile(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reconcile = commands.add_parser(
        "reconcile",
        help="run one reconciler pass over every managed group",
        description=(
            "One pass of the scheduled reconciler: every pending launch and terminate action "
            "of every managed group is driven one step forward, drifted tags and node-role "
            "authorizations are repaired, and smoke pods left behind are deleted. Prints the "
            "report as JSON on stdout; if any group or cluster failed (the report's errors), "
            "exits with status 1 after printing it."
        ),
        epilog=f"{_CHANGES} {_RECONCILE_BLOCKS} {_LOGS}",
    )
    reconcile.add_argument("--region", help=_REGION_HELP)
    reconcile.set_defaults(run=_reconcile)


def _lifecycle(args: argparse.Namespace) -> CommandResult:
    with _operator_input():
        event = _read_event(args.event)
        if isinstance(event, dict) and "requestPayload" in event and "detail" not in event:
            raise InvalidInputError(
                "event",
                "this is the record of a failed invocation (LifecycleFailedInvocationsQueue), "
                "not an event: the event is its requestPayload (jq .requestPayload)",
            )
        try:
            parsed = classify_lifecycle_event(event)  # bad input fails here, before AWS set-up
        except InvalidInputError as error:
            where = "" if error.field == "event" else f"{error.field}: "
            raise InvalidInputError("event", f"{where}{error.reason}") from None
        region = _event_region(_region(args), parsed)
    wiring.settings()  # a bad setting is refused whatever the event
    if isinstance(parsed, LifecycleTestNotification):
        outcome = skipped_test_notification()  # no AWS needed, not even a region
    else:
        args.interrupted = _INTERRUPTED_ACTION
        outcome = wiring.lifecycle_events(region).handle(event)
    if outcome.get("status") == "rejected":
        raise OptionError("event", f"{outcome['field']}: {outcome['reason']}")
    return CommandResult(json.dumps(outcome, indent=2) + "\n")


def _read_event(source: str) -> Any:
    """The JSON of FILE, or of stdin for `-`. Read as bytes, so that json finds the encoding:
    UTF-8, with or without the BOM PowerShell writes, or UTF-16 (Windows PowerShell's `>`)."""
    name = "stdin" if source == "-" else source
    try:
        data = _stdin_bytes() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        raise InvalidInputError("event", f"cannot read {name}: {error}") from None
    try:
        return json.loads(data)
    except UnicodeDecodeError as error:
        raise InvalidInputError("event", f"cannot read {name}: {error}") from None
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            "event",
            f"{name} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None
    except RecursionError:
        # json recurses once per level: `[[[...` thousands deep would end in a traceback.
        raise InvalidInputError("event", f"{name} is nested too deeply") from None


def _stdin_bytes() -> bytes:
    buffer = getattr(sys.stdin, "buffer", None)  # none on a stream replaced in-process
    return buffer.read() if buffer is not None else sys.stdin.read().encode()


def _reconcile(args: argparse.Namespace) -> CommandResult:
    with _operator_input():
        region = _region(args)
    args.interrupted = _INTERRUPTED_ACTION
    report = wiring.reconcile_service(region).reconcile()
    return CommandResult(
        json.dumps(report.as_json(), indent=2) + "\n",
        status=EXIT_FAILURE if report.errors else EXIT_OK,
    )


def _event_region(chosen: str | None, event: LifecycleEvent) -> str | None:
    """A lifecycle event is acted on in the region it names, where its group is: the region of
    the environment or the profile, which may be another, is not used for it, and --region must
    be the event's. A replay from a shell set for another region would find no group, and say
    only that it ignored the event."""
    named = getattr(event, "region", None)
    if named is None:  # a test notification: no AWS call
        return chosen
    if not is_region_name(named):
        raise InvalidInputError("event", f"region: {named!r} is not an AWS region name")
    if chosen is not None and chosen != named:
        raise InvalidInputError(
            "region", f"{chosen!r}, but the event is from {named!r}, where its group is"
        )
    return str(named)


def _region(args: argparse.Namespace) -> str | None:
    region: str | None = args.region
    if region is not None and not is_region_name(region):
        raise InvalidInputError("region", f"{region!r} is not an AWS region name")
    return region


def _add_rbac(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rbac_command = commands.add_parser(
        "rbac",
        help="print the Kubernetes RBAC the functions need, as YAML for kubectl apply",
        description=(
            "Print the ClusterRole, the kube-system Role, the smoke-test namespace and its Role, "
            f"each bound to the group {rbac.FUNCTIONS_GROUP!r} that the functions' IAM roles are "
            "mapped to, as a YAML stream in the order they can be created: "
            "`winnodes rbac | kubectl apply -f -`. Reads no AWS and no cluster."
        ),
    )
    rbac_command.add_argument(
        "--smoke-test-namespace",
        default=DEFAULT_SMOKE_TEST_NAMESPACE,
        metavar="NAME",
        help="the namespace SMOKE_TEST_NAMESPACE names (default: %(default)s)",
    )
    rbac_command.set_defaults(run=_rbac)


def _rbac(args: argparse.Namespace) -> CommandResult:
    import yaml  # noqa: PLC0415 - this command only; the functions never load it for this

    namespace = args.smoke_test_namespace
    if problem := smoke_test_namespace_problem(namespace):
        raise OptionError("smoke-test-namespace", problem)
    manifests = rbac.manifests(smoke_test_namespace=namespace)
    return CommandResult(yaml.safe_dump_all(manifests, sort_keys=False))


def _add_render_userdata(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    render = commands.add_parser(
        "render-userdata",
        help="print the PowerShell user data that joins a Windows node to a cluster",
        description=(
            "Print the PowerShell user data that runs Start-EKSBootstrap.ps1 on an EKS-optimized "
            "Windows AMI. Every argument is single-quoted; a failed bootstrap exits non-zero. "
            "Without --endpoint and --ca, they and the service CIDR come from eks:DescribeCluster."
        ),
        epilog=(
            "Invalid input prints one line naming the option and exits with status 2. " + _LOGS
        ),
    )
    render.add_argument("--cluster-name", required=True, metavar="NAME", help="EKS cluster name")
    cluster = render.add_argument_group(
        "cluster connection (both or neither; neither: read with eks:DescribeCluster)"
    )
    cluster.add_argument("--endpoint", metavar="URL", help="API server endpoint, https://HOST")
    cluster.add_argument(
        "--ca", metavar="BASE64", help="cluster certificate authority, base64 of the PEM"
    )
    cluster.add_argument(
        "--region",
        help="AWS region for DescribeCluster "
        "(default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)",
    )
    network = render.add_argument_group("network")
    network.add_argument(
        "--service-cidr", metavar="CIDR", help="Kubernetes service IPv4 CIDR (-ServiceCIDR)"
    )
    network.add_argument(
        "--dns-cluster-ip",
        metavar="IP",
        help="cluster DNS IP (-DNSClusterIP; default: tenth address of the service CIDR)",
    )
    network.add_argument(
        "--excluded-snat-cidrs",
        metavar="CIDR,...",
        help="IPv4 CIDRs the node does not SNAT to (-ExcludedSnatCIDRs)",
    )
    node = render.add_argument_group("node")
    node.add_argument("--node-labels", metavar="k=v,...", help="labels the kubelet registers")
    node.add_argument(
        "--taints",
        metavar="key=value:Effect,...",
        help="taints the kubelet registers (NoSchedule, PreferNoSchedule, NoExecute)",
    )
    node.add_argument(
        "--kubelet-extra-args",
        metavar="ARGS",
        help="more kubelet arguments (one line, ASCII), e.g. --kubelet-extra-args '--v=2'",
    )
    node.add_argument(
        "--kube-proxy-extra-args", metavar="ARGS", help="kube-proxy arguments (one line, ASCII)"
    )
    script = render.add_argument_group("script")
    script.add_argument(
        "--pre-bootstrap",
        metavar="FILE",
        type=Path,
        help="PowerShell (ASCII) run before the bootstrap",
    )
    script.add_argument(
        "--post-bootstrap",
        metavar="FILE",
        type=Path,
        help="PowerShell (ASCII) run after the bootstrap",
    )
    script.add_argument(
        "--no-wrapper", action="store_true", help="omit the <powershell> tags EC2Launch reads"
    )
    script.add_argument(
        "--base64", action="store_true", help="print base64, as a launch template's UserData takes"
    )
    render.set_defaults(run=_render_userdata)


def _render_userdata(args: argparse.Namespace) -> CommandResult:
    with _operator_input():
        request, region = _userdata_request(args), _region(args)
        # settings_for turns a value DescribeCluster returned unusable into an AwsError: what
        # it refuses as invalid input is an option (or options that disagree with the cluster).
        settings = settings_for(request, lambda: wiring.cluster_directory(region))
        userdata = render_userdata(settings, wrapper=not args.no_wrapper)
    return CommandResult(encode_userdata(userdata) + "\n" if args.base64 else userdata)


def _userdata_request(args: argparse.Namespace) -> UserdataRequest:
    return UserdataRequest(
        cluster_name=args.cluster_name,
        endpoint=args.endpoint,
        ca_base64=args.ca,
        service_cidr=args.service_cidr,
        dns_cluster_ip=args.dns_cluster_ip,
        node_labels=parse_node_labels(args.node_labels) if args.node_labels else (),
        taints=parse_taints(args.taints) if args.taints else (),
        kubelet_extra_args=args.kubelet_extra_args,
        kube_proxy_extra_args=args.kube_proxy_extra_args,
        excluded_snat_cidrs=(
            parse_cidr_list(args.excluded_snat_cidrs, field="excluded-snat-cidrs")
            if args.excluded_snat_cidrs
            else ()
        ),
        pre_bootstrap=_read_snippet(args.pre_bootstrap, field="pre-bootstrap"),
        post_bootstrap=_read_snippet(args.post_bootstrap, field="post-bootstrap"),
    )


def _read_snippet(path: Path | None, *, field: str) -> str | None:
    """A PowerShell file as its editors write it: UTF-8, with or without a BOM (VS Code's
    "UTF-8 with BOM", PowerShell 5.1's Out-File -Encoding UTF8), or UTF-16 with its BOM (Windows
    PowerShell's `>`). The BOM is dropped: kept, it would land mid-script in the user data."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
        encoding = next((name for bom, name in _BYTE_ORDER_MARKS if data.startswith(bom)), "utf-8")
        return data.decode(encoding)
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(field, f"cannot read {path}: {error}") from None


# utf-8-sig drops its BOM; utf-16 reads its own to learn the byte order, and drops it.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


if __name__ == "__main__":
    sys.exit(main())
