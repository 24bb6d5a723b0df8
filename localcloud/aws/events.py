"""An EventBridge stand-in: one event bus, rules with real event patterns or schedules, and
targets that are in-process callables (invoked like Lambda functions) or SQS queues.

Delivery follows EventBridge's contract, not its timing: at least once, asynchronously, retried
when a target raises (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html:
"EventBridge retries ... for up to 24 hours and up to 185 times"; here ``max_attempts`` with a
short back-off), with no ordering guarantee. ``Chaos`` makes the unreliable parts happen on
purpose: duplicates, delays and reordering, seeded for reproducibility.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.aws.clock import SimClock
from localcloud.aws.patterns import matches, validate_pattern

log = logging.getLogger("localcloud.aws.events")

EventTarget = Callable[[dict[str, Any], "LambdaContext"], Any]


@dataclass
class LambdaContext:
    """What a Lambda handler's ``context`` offers (the attributes Powertools reads).
    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html"""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: float = 900.0
    _deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class SqsTarget:
    """Deliver the event as the message body (JSON), as EventBridge does for SQS targets."""

    queue_url: str


@dataclass(frozen=True)
class Chaos:
    """Deliberate unreliability. ``duplicate``: probability of a second delivery;
    ``max_delay``: each delivery waits up to this many simulated seconds (so events reorder);
    ``drop``: probability an event is lost (EventBridge drops after retries are exhausted)."""

    duplicate: float = 0.0
    max_delay: float = 0.0
    drop: float = 0.0
    seed: int = 0


@dataclass
class Rule:
    name: str
    event_pattern: dict[str, Any] | None = None
    schedule_seconds: float | None = None
    schedule_expression: str | None = None
    enabled: bool = True
    targets: dict[str, EventTarget | SqsTarget] = field(default_factory=dict)
    next_fire: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """One attempt's outcome, kept for tests (``bus.deliveries``)."""

    rule: str
    target_id: str
    event_id: str
    attempt: int
    ok: bool
    error: str | None = None


def parse_schedule(expression: str) -> float:
    """Seconds between runs of ``rate(N unit)``; cron expressions are not supported.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html"""
    text = expression.strip()
    if not (text.startswith("rate(") and text.endswith(")")):
        raise ValueError(f"only rate() schedules are supported: {expression}")
    amount, _, unit = text[5:-1].strip().partition(" ")
    seconds = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400}
    seconds["days"] = 86400
    if not amount.isdigit() or unit not in seconds or int(amount) < 1:
        raise ValueError(f"invalid rate expression: {expression}")
    if (int(amount) == 1) != (not unit.endswith("s")):
        raise ValueError(f"rate(1 unit) is singular, others plural: {expression}")
    return int(amount) * seconds[unit]


# A scheduled delivery: rule name, target id, target, event, attempt.
_Pending = tuple[str, str, "EventTarget | SqsTarget", dict[str, Any], int]


class EventBus:
    """The ``default`` event bus of one account and region. Thread safe."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        clock: SimClock,
        sqs_send: Callable[[str, str], None] | None = None,
        max_attempts: int = 3,
        retry_delay: float = 5.0,
        workers: int = 8,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.clock = clock
        self.name = "default"
        self.arn = f"arn:aws:events:{region}:{account_id}:event-bus/default"
        self._sqs_send = sqs_send
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.chaos = Chaos()
        self._rng = random.Random(0)
        self._rules: dict[str, Rule] = {}
        self._queue: list[tuple[float, int, _Pending]] = []
        self._seq = itertools.count()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eventbus-target")
        self._thread = threading.Thread(target=self._run, name="eventbus", daemon=True)
        self.published: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.dead_letters: list[tuple[str, dict[str, Any], str]] = []

    # -- configuration ------------------------------------------------------------------------

    def start(self) -> EventBus:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def set_chaos(self, chaos: Chaos) -> None:
        with self._lock:
            self.chaos = chaos
            self._rng = random.Random(chaos.seed)

    def put_rule(
        self,
        name: str,
        *,
        event_pattern: Mapping[str, Any] | None = None,
        schedule_expression: str | None = None,
    ) -> Rule:
        """Create or replace a rule (PutRule): exactly one of pattern and schedule."""
        if (event_pattern is None) == (schedule_expression is None):
            raise ValueError("a rule has an event pattern or a schedule expression")
        rule = Rule(name=name)
        if event_pattern is not None:
            validate_pattern(event_pattern)
            rule.event_pattern = json.loads(json.dumps(event_pattern))
        else:
            assert schedule_expression is not None
            rule.schedule_expression = schedule_expression
            rule.schedule_seconds = parse_schedule(schedule_expression)
            rule.next_fire = self.clock.now() + rule.schedule_seconds
        with self._lock:
            old = self._rules.get(name)
            if old is not None:
                rule.targets = old.targets
            self._rules[name] = rule
            self._lock.notify_all()
        return rule

    def put_target(
        self, rule_name: str, target: EventTarget | SqsTarget, *, target_id: str | None = None
    ) -> str:
        with self._lock:
            rule = self._rules[rule_name]
            tid = target_id or f"target-{len(rule.targets) + 1}"
            rule.targets[tid] = target
        return tid

    def remove_rule(self, name: str) -> None:
        with self._lock:
            self._rules.pop(name, None)

    def disable_rule(self, name: str) -> None:
        with self._lock:
            self._rules[name].enabled = False

    def enable_rule(self, name: str) -> None:
        with self._lock:
            self._rules[name].enabled = True

    # -- events -------------------------------------------------------------------------------

    def put_events(self, entries: list[Mapping[str, Any]]) -> list[str]:
        """PutEvents: ``Source``, ``DetailType``, ``Detail`` (JSON text), ``Resources``."""
        ids = []
        for entry in entries:
            event = self.envelope(
                source=entry["Source"],
                detail_type=entry["DetailType"],
                detail=json.loads(entry.get("Detail") or "{}"),
                resources=list(entry.get("Resources", [])),
            )
            self.publish(event)
            ids.append(event["id"])
        return ids

    def envelope(
        self,
        *,
        source: str,
        detail_type: str,
        detail: Mapping[str, Any],
        resources: list[str] | None = None,
        time: datetime | None = None,
    ) -> dict[str, Any]:
        """An event as EventBridge delivers it.
        https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html"""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self.account_id,
            "time": (time or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": list(resources or []),
            "detail": dict(detail),
        }

    def publish(self, event: Mapping[str, Any]) -> None:
        """Route a complete event to every matching rule's targets (asynchronously)."""
        copy: dict[str, Any] = json.loads(json.dumps(event))
        with self._lock:
            self.published.append(copy)
            rules = [r for r in self._rules.values() if r.enabled and r.event_pattern]
            for rule in rules:
                if matches(rule.event_pattern or {}, copy):
                    for tid, target in rule.targets.items():
                        self._schedule_locked(rule.name, tid, target, copy, attempt=1)
            self._lock.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued (deliveries in flight may still run)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queue:
                    return True
            time.sleep(0.02)
        return False

    def _schedule_locked(
        self,
        rule: str,
        tid: str,
        target: EventTarget | SqsTarget,
        event: dict[str, Any],
        *,
        attempt: int,
        delay: float = 0.0,
    ) -> None:
        copies = 1
        if attempt == 1:
            if self.chaos.drop and self._rng.random() < self.chaos.drop:
                self.dead_letters.append((rule, event, "dropped by chaos"))
                return
            if self.chaos.duplicate and self._rng.random() < self.chaos.duplicate:
                copies = 2
        for _ in range(copies):
            jitter = self._rng.uniform(0, self.chaos.max_delay) if self.chaos.max_delay else 0.0
            due = self.clock.now() + delay + jitter
            heapq.heappush(self._queue, (due, next(self._seq), (rule, tid, target, event, attempt)))

    def _run(self) -> None:
        while not self._stop.is_set():
            due_items: list[_Pending] = []
            with self._lock:
                now = self.clock.now()
                self._fire_schedules_locked(now)
                while self._queue and self._queue[0][0] <= now:
                    due_items.append(heapq.heappop(self._queue)[2])
                if not due_items:
                    self._lock.wait(timeout=0.02)
            for item in due_items:
                self._pool.submit(self._deliver, *item)

    def _fire_schedules_locked(self, now: float) -> None:
        for rule in self._rules.values():
            if rule.schedule_seconds is None or not rule.enabled or now < rule.next_fire:
                continue
            # A slow tick fires once, not once per missed period (EventBridge does not catch up).
            rule.next_fire = max(rule.next_fire + rule.schedule_seconds, now)
            event = self.envelope(
                source="aws.events",
                detail_type="Scheduled Event",
                detail={},
                resources=[f"arn:aws:events:{self.region}:{self.account_id}:rule/{rule.name}"],
            )
            self.published.append(event)
            for tid, target in rule.targets.items():
                self._schedule_locked(rule.name, tid, target, event, attempt=1)

    def _deliver(
        self,
        rule: str,
        tid: str,
        target: EventTarget | SqsTarget,
        event: dict[str, Any],
        attempt: int,
    ) -> None:
        try:
            if isinstance(target, SqsTarget):
                if self._sqs_send is None:
                    raise RuntimeError("no SQS sender configured")
                self._sqs_send(target.queue_url, json.dumps(event))
            else:
                target(json.loads(json.dumps(event)), self._context(rule, tid))
        except Exception as exc:  # noqa: BLE001 - a target's failure is the bus's retry, not our crash
            log.warning("delivery failed rule=%s target=%s attempt=%d: %s", rule, tid, attempt, exc)
            with self._lock:
                self.deliveries.append(Delivery(rule, tid, event["id"], attempt, False, repr(exc)))
                if attempt < self.max_attempts:
                    self._schedule_locked(
                        rule, tid, target, event, attempt=attempt + 1, delay=self.retry_delay
                    )
                else:
                    self.dead_letters.append((rule, event, repr(exc)))
                self._lock.notify_all()
            return
        with self._lock:
            self.deliveries.append(Delivery(rule, tid, event["id"], attempt, True))

    def _context(self, rule: str, tid: str) -> LambdaContext:
        import time

        name = tid
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}",
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
        )
        context._deadline = time.monotonic() + context.timeout_seconds
        return context
