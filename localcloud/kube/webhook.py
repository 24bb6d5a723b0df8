"""The token-review webhook kube-apiserver calls for bearer tokens it does not know itself.

It plays aws-iam-authenticator inside EKS: decode the ``k8s-aws-v1.`` token, ask the
``IdentitySource`` who signed it, map that ARN through access entries and ``aws-auth``.
"""

from __future__ import annotations

import collections
import json
import logging
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from localcloud.kube.identity import AccessEntrySource, IdentitySource
from localcloud.kube.mapping import (
    AuthenticationMode,
    KubernetesUser,
    MappingError,
    parse_aws_auth_leniently,
    parse_caller_arn,
    resolve_user,
)
from localcloud.kube.pki import CertPair
from localcloud.kube.token import TokenError, check_host, check_validity, decode_token

log = logging.getLogger("localcloud.webhook")

AwsAuthReader = Callable[[], Mapping[str, str] | None]


@dataclass(frozen=True)
class AuthDecision:
    """One authentication outcome, kept for debugging and tests."""

    at: datetime
    caller_arn: str | None
    username: str | None
    reason: str


class EksAuthenticator:
    def __init__(
        self,
        *,
        cluster_name: str,
        identity_source: IdentitySource,
        access_entries: AccessEntrySource,
        aws_auth: AwsAuthReader,
        mode: AuthenticationMode = AuthenticationMode.API_AND_CONFIG_MAP,
        allowed_sts_hosts: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cluster_name = cluster_name
        self.identity_source = identity_source
        self.access_entries = access_entries
        self.aws_auth = aws_auth
        self.mode = mode
        self.allowed_sts_hosts = allowed_sts_hosts
        self.clock = clock
        self.decisions: collections.deque[AuthDecision] = collections.deque(maxlen=500)

    def authenticate(self, token: str) -> KubernetesUser | None:
        caller_arn: str | None = None
        try:
            request = decode_token(token)
            check_validity(request, now=self.clock())
            check_host(request, allowed_hosts=self.allowed_sts_hosts)
            caller_arn = self.identity_source.caller_arn(request, cluster_name=self.cluster_name)
            if caller_arn is None:
                return self._decide(None, None, "STS refused the presigned request")
            caller = parse_caller_arn(caller_arn)
            user = None
            if self.mode is not AuthenticationMode.CONFIG_MAP:
                user = resolve_user(
                    caller,
                    mode=AuthenticationMode.API,
                    access_entries=self.access_entries.access_entries(self.cluster_name),
                    aws_auth=(),
                    private_dns_name=self.identity_source.private_dns_name,
                )
            if user is None and self.mode is not AuthenticationMode.API:
                # Read and parsed only when no access entry matched. As in EKS, entries that
                # do not parse are skipped and the rest still map their identities.
                entries, errors = parse_aws_auth_leniently(self.aws_auth() or {})
                for error in errors:
                    log.warning("aws-auth: %s (entry ignored)", error)
                user = resolve_user(
                    caller,
                    mode=AuthenticationMode.CONFIG_MAP,
                    access_entries=(),
                    aws_auth=entries,
                    private_dns_name=self.identity_source.private_dns_name,
                )
        except (TokenError, MappingError) as exc:
            return self._decide(caller_arn, None, str(exc))
        if user is None:
            return self._decide(caller_arn, None, "identity is not mapped")
        return self._decide(caller_arn, user, "mapped")

    def _decide(
        self, arn: str | None, user: KubernetesUser | None, reason: str
    ) -> KubernetesUser | None:
        self.decisions.append(
            AuthDecision(
                at=self.clock(),
                caller_arn=arn,
                username=user.username if user else None,
                reason=reason,
            )
        )
        log.debug("token review arn=%s user=%s reason=%s", arn, user, reason)
        return user


class TokenWebhookServer:
    """HTTPS on 127.0.0.1 (a free port), one thread; ``url`` goes into the apiserver config."""

    def __init__(self, authenticator: EksAuthenticator, *, tls: CertPair) -> None:
        self.authenticator = authenticator
        handler = _handler_for(authenticator)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls.cert), str(tls.key))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="localcloud-token-webhook",
            daemon=True,
        )

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"https://127.0.0.1:{port}/authenticate"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def _handler_for(authenticator: EksAuthenticator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                review = json.loads(self.rfile.read(length))
                token = review["spec"]["token"]
                api_version = review.get("apiVersion", "authentication.k8s.io/v1")
            except (ValueError, KeyError, TypeError):
                self.send_error(400, "not a TokenReview")
                return
            user = authenticator.authenticate(token) if isinstance(token, str) else None
            status: dict[str, object] = {"authenticated": user is not None}
            if user is not None:
                status["user"] = {
                    "username": user.username,
                    "uid": f"aws-iam-authenticator:{user.extra.get('canonicalArn', ('',))[0]}",
                    "groups": list(user.groups),
                    "extra": {k: list(v) for k, v in user.extra.items()},
                }
            body = json.dumps(
                {"apiVersion": api_version, "kind": "TokenReview", "status": status}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("webhook: " + format, *args)

    return Handler
