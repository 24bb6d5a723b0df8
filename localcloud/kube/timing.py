"""How fast simulated time runs: delays and intervals of the kubelet and scheduler stand-ins."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """``time_scale`` multiplies simulated durations (boot, pod start and run time, termination
    grace periods, the node monitor's grace period): 0.01 turns a 30 s grace period into 0.3 s.
    Polling intervals are real seconds."""

    time_scale: float = 1.0
    node_boot_delay: float = 0.0
    pod_start_delay: float = 1.0
    # How long a run-to-completion pod (restartPolicy Never) runs once Running.
    pod_run_time: float = 5.0
    heartbeat_interval: float = 5.0
    sync_interval: float = 0.5
    register_retry: float = 1.0
    scheduler_interval: float = 0.5
    # A Node's conditions turn Unknown this long after its kubelet stopped (a cluster counts from
    # the last status: kube-controller-manager --node-monitor-grace-period, 40 s in v1.20).
    node_monitor_grace_period: float = 40.0
    # A registered kubelet reports NotReady this long, as a Windows kubelet does while its
    # container network comes up (the VPC resource controller assigns its IPs).
    not_ready_for: float = 0.0

    def scaled(self, seconds: float) -> float:
        return max(0.0, seconds * self.time_scale)

    @classmethod
    def fast(cls) -> Timing:
        """For tests: grace periods and start delays shrink a hundredfold."""
        return cls(
            time_scale=0.01,
            pod_start_delay=20.0,
            heartbeat_interval=2.0,
            sync_interval=0.25,
            register_retry=0.5,
            scheduler_interval=0.25,
            not_ready_for=100.0,
        )
