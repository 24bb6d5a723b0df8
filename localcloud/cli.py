"""``python -m localcloud up|status|down``: the local cloud as a background process;
``python -m localcloud demo``: the product's main job on a local cloud of its own
(localcloud/demo.py).

``up`` starts a daemon (``python -m localcloud serve``, its own session) that runs
``LocalCloud`` until SIGTERM, waits for it to be ready and prints ``export`` lines. The daemon
records itself in ``<state-dir>/state.json``; ``status`` and ``down`` read it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from localcloud.demo import NodeAuth
from localcloud.kube.controlplane import cache_dir, ensure_binaries
from localcloud.kube.processes import pid_alive, stop_pid
from winnodes.errors import InvalidInputError
from winnodes.models.identifiers import ClusterName

STATE_FILE = "state.json"
DAEMON_LOG = "daemon.log"
EXIT_NOT_RUNNING = 3


def default_state_dir() -> Path:
    return cache_dir() / "localcloud"


def say(message: str) -> None:
    print(f"[localcloud] {message}", file=sys.stderr, flush=True)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The running cloud's state, or None without one: no file, or one that is not what `up`
    writes (half-written, edited by hand), whose pids could not be trusted to stop."""
    try:
        state = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _is_pid(state.get("pid")):
        return None
    children = state.get("children", [])
    if not isinstance(children, list) or not all(_is_pid(pid) for pid in children):
        return None
    return state


def _is_pid(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _daemon_alive(state: dict[str, Any]) -> bool:
    return pid_alive(int(state["pid"]))


def _exports(env: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in sorted(env.items()))


# -- up ------------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    state = read_state(state_dir)
    if state and state.get("status") == "ready" and _daemon_alive(state):
        say(f"already running (pid {state['pid']}); its environment follows")
        sys.stdout.write(_exports(state["env"]))
        return 0
    if state and _daemon_alive(state):
        say(f"a daemon (pid {state['pid']}) is starting or stuck; run `down` first")
        return 1
    ensure_binaries()  # in the foreground: the first build takes ~10 minutes, show its progress
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "run", ignore_errors=True)
    log_path = state_dir / DAEMON_LOG
    argv = [
        sys.executable,
        "-m",
        "localcloud",
        "serve",
        "--state-dir",
        str(state_dir),
        "--cluster-name",
        args.cluster_name,
        "--time-scale",
        str(args.time_scale),
    ]
    if args.kube_only:
        argv.append("--kube-only")
    with log_path.open("wb") as log, open(os.devnull, "rb") as devnull:
        daemon = subprocess.Popen(
            argv,
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    say(f"daemon pid {daemon.pid}, log {log_path}")
    deadline = time.monotonic() + args.timeout
    shown = 0
    while time.monotonic() < deadline:
        shown = _relay_log(log_path, shown)
        state = read_state(state_dir)
        if state and state.get("status") == "ready":
            _relay_log(log_path, shown)
            say("ready")
            sys.stdout.write(_exports(state["env"]))
            return 0
        if daemon.poll() is not None:
            _relay_log(log_path, shown)
            say(f"daemon exited with status {daemon.returncode} before it was ready")
            return 1
        time.sleep(0.2)
    say(f"not ready after {args.timeout:.0f}s; stopping it")
    _stop_all(state_dir, read_state(state_dir) or {"pid": daemon.pid, "children": []})
    return 1


def _relay_log(path: Path, offset: int) -> int:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            chunk = log.read()
    except OSError:
        return offset
    if chunk:
        sys.stderr.write(chunk.decode(errors="replace"))
        sys.stderr.flush()
    return offset + len(chunk)


# -- serve (the daemon) ----------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from localcloud.cloud import LocalCloud
    from localcloud.kube import Timing

    state_dir: Path = args.state_dir
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    _write_state(state_dir, {"status": "starting", "pid": os.getpid(), "children": []})
    cloud = LocalCloud(
        cluster_name=args.cluster_name,
        timing=Timing(time_scale=args.time_scale),
        work_dir=state_dir / "run",
        with_aws=False if args.kube_only else None,
    )
    try:
        cloud.start()
        _write_state(
            state_dir,
            {
                "status": "ready",
                "pid": os.getpid(),
                "children": cloud.pids,
                "env": cloud.env(),
                "cluster_name": args.cluster_name,
                "started_at": time.time(),
            },
        )
        say("serving; SIGTERM stops")
        while not stop.wait(1.0):
            pass
        say("stopping")
    finally:
        cloud.stop()
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        shutil.rmtree(state_dir / "run", ignore_errors=True)
        say("stopped")
    return 0


def _write_state(state_dir: Path, state: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(state_dir / STATE_FILE)


# -- status / down ---------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    state = read_state(args.state_dir)
    if not state or not _daemon_alive(state):
        print(f"localcloud: not running (state dir {args.state_dir})")
        return EXIT_NOT_RUNNING
    children = {pid: pid_alive(pid) for pid in state.get("children", [])}
    print(
        f"localcloud: {state.get('status')} (daemon pid {state['pid']}, state dir {args.state_dir})"
    )
    for name, value in sorted((state.get("env") or {}).items()):
        print(f"  {name}={value}")
    for pid, alive in children.items():
        print(f"  child pid {pid}: {'running' if alive else 'gone'}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state = read_state(args.state_dir)
    if not state:
        say("not running")
        return 0
    _stop_all(args.state_dir, state)
    say("stopped")
    return 0


def _stop_all(state_dir: Path, state: dict[str, Any]) -> None:
    stop_pid(int(state["pid"]), expect_in_cmdline="localcloud", timeout=20)
    # The daemon stops its children; anything it could not (it was SIGKILLed) goes now.
    for pid in state.get("children", []):
        for binary in ("etcd", "kube-apiserver", "kube-controller-manager"):
            if stop_pid(int(pid), expect_in_cmdline=binary):
                break
    with contextlib.suppress(OSError):
        (state_dir / STATE_FILE).unlink()
    shutil.rmtree(state_dir / "run", ignore_errors=True)


# -- demo ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from localcloud.demo import DemoOptions, run_demo

    options = DemoOptions(
        nodes=args.nodes,
        replicas=args.replicas,
        auth=NodeAuth(args.auth),
        boot_seconds=args.boot_seconds,
        join_timeout=args.join_timeout,
        workload_timeout=args.workload_timeout,
        drain_timeout=args.drain_timeout,
        handler_log=args.handler_log,
        report=args.report,
    )
    problems = options.problems()
    for problem in problems:
        print(f"python -m localcloud demo: error: {problem}", file=sys.stderr)
    return 2 if problems else run_demo(options)


# -- parser ----------------------------------------------------------------------------------


def _positive(text: str) -> float:
    """A finite number above 0; checked before anything is built or started."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _cluster_name(text: str) -> str:
    try:
        return str(ClusterName(text))
    except InvalidInputError as error:
        raise argparse.ArgumentTypeError(error.reason) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud",
        description="The local cloud: a real kube-apiserver v1.20.2 with EKS-style IAM auth, "
        "simulated Windows nodes, and (when present) the moto-based AWS half.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_state_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--state-dir",
            type=Path,
            default=default_state_dir(),
            help="where the running local cloud is recorded (default: %(default)s)",
        )
        return p

    up = with_state_dir(
        sub.add_parser(
            "up",
            help="start in the background and print `export NAME=value` lines",
            description="Start the local cloud in a background process, wait until it is ready "
            'and print `export NAME=value` lines (use: eval "$(python -m localcloud up)"). '
            "Builds the control plane first if needed (~10 minutes, once).",
        )
    )
    up.add_argument(
        "--cluster-name",
        type=_cluster_name,
        default="localcloud",
        help="the EKS cluster's name (default: %(default)s)",
    )
    up.add_argument(
        "--time-scale",
        type=_positive,
        default=1.0,
        help="multiplier for simulated delays and grace periods (default 1)",
    )
    up.add_argument("--kube-only", action="store_true", help="do not start the AWS half")
    up.add_argument("--timeout", type=_positive, default=120.0, help="seconds to wait for ready")
    up.set_defaults(func=cmd_up)

    serve = with_state_dir(
        sub.add_parser(
            "serve",
            help="run in the foreground (what `up` starts)",
            description="Run the local cloud in this process until SIGTERM/SIGINT.",
        )
    )
    serve.add_argument("--cluster-name", type=_cluster_name, default="localcloud")
    serve.add_argument("--time-scale", type=_positive, default=1.0)
    serve.add_argument("--kube-only", action="store_true")
    serve.set_defaults(func=cmd_serve)

    status = with_state_dir(
        sub.add_parser(
            "status",
            help="is it running? pids and environment",
            description=f"Show the running local cloud; exit {EXIT_NOT_RUNNING} if none.",
        )
    )
    status.set_defaults(func=cmd_status)

    down = with_state_dir(
        sub.add_parser(
            "down",
            help="stop everything `up` started",
            description="Stop the daemon and every process it started.",
        )
    )
    down.set_defaults(func=cmd_down)

    demo = sub.add_parser(
        "demo",
        help="the main job on the local cloud: a Windows node group joins and leaves",
        description="Deploy the product on a fresh local cloud (its own, stopped at the end), "
        "create a managed Windows node group for the private cluster, scale it out, run a "
        "replicated workload with a PodDisruptionBudget, scale in by one, and narrate every "
        "step the real handlers take. Exits 0 when everything converged, 1 with the reason "
        "when a stage did not within its timeout.",
    )
    demo.add_argument(
        "--nodes", type=int, default=3, help="instances to scale out to (default %(default)s)"
    )
    demo.add_argument(
        "--replicas",
        type=int,
        default=6,
        help="workload replicas; the budget allows one disruption (default %(default)s)",
    )
    demo.add_argument(
        "--auth",
        choices=[a.value for a in NodeAuth],
        default=NodeAuth.ACCESS_ENTRY.value,
        help="how the node role is authorized: an EC2_WINDOWS access entry (cluster mode "
        "API_AND_CONFIG_MAP) or the aws-auth ConfigMap (mode CONFIG_MAP) (default %(default)s)",
    )
    demo.add_argument(
        "--boot-seconds",
        type=float,
        default=3.0,
        help="how long an instance boots before its kubelet registers (default %(default)s)",
    )
    for name, default, what in (
        ("join", 120.0, "the scale-out"),
        ("workload", 60.0, "the workload"),
        ("drain", 120.0, "the scale-in"),
    ):
        demo.add_argument(
            f"--{name}-timeout",
            type=float,
            default=default,
            metavar="SECONDS",
            help=f"give up when {what} has not converged by then (default %(default)s)",
        )
    demo.add_argument(
        "--handler-log",
        type=Path,
        default=None,
        help="where the handlers' logs and metrics go "
        "(default: $EKS_WINDOWS_NODES_CACHE/demo/handlers.log)",
    )
    demo.add_argument("--report", type=Path, default=None, help="also write a JSON report here")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
