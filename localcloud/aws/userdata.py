"""What a Windows EKS node would do with its user data: find the ``Start-EKSBootstrap.ps1`` call
and read its arguments. Pure.

The EKS-optimized Windows AMI runs the ``<powershell>...</powershell>`` block of the user data
(EC2Launch); the block joins the node by calling
``"$env:ProgramFiles\\Amazon\\EKS\\Start-EKSBootstrap.ps1"`` with ``-EKSClusterName``,
``-APIServerEndpoint`` and ``-Base64ClusterCA``
(https://docs.aws.amazon.com/eks/latest/userguide/eks-optimized-windows-ami.html). The call may
name the script directly or through a variable assigned the script's path (terraform-aws-eks,
Karpenter). Arguments are single-quoted verbatim strings in which ``''`` stands for one quote
(PowerShell Language Specification 3.0, 2.3.5.2); double-quoted strings and bare words are read
as written (no variable expansion: a node would expand them, we refuse to guess).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

BOOTSTRAP_SCRIPT = "Start-EKSBootstrap.ps1"
_QUOTES = "'\u2018\u2019\u201a\u201b"
_POWERSHELL_BLOCK = re.compile(r"<powershell>(.*?)</powershell>", re.S | re.I)
_ASSIGNMENT = re.compile(
    r"^\s*(?:\[[A-Za-z.]+\]\s*)?\$(?P<var>[A-Za-z_][A-Za-z0-9_:]*)\s*=\s*(?P<value>.+?)\s*$", re.M
)
_REDIRECTION = re.compile(r"^\d?>(?:&\d|>?\s*\S+)")


class UserDataError(ValueError):
    """The user data does not contain a readable bootstrap call; the message says why."""


@dataclass(frozen=True)
class BootstrapCall:
    """The arguments of the one ``Start-EKSBootstrap.ps1`` call (name → values)."""

    arguments: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        for key, values in self.arguments.items():
            if key.lower() == name.lower():
                return values[0] if len(values) == 1 else ",".join(values)
        return None

    @property
    def cluster_name(self) -> str | None:
        return self.value("EKSClusterName")

    @property
    def api_server_endpoint(self) -> str | None:
        return self.value("APIServerEndpoint")

    @property
    def base64_cluster_ca(self) -> str | None:
        return self.value("Base64ClusterCA")


def decode_user_data(encoded: str | bytes | None) -> str:
    """EC2 returns user data base64 encoded; a node sees the decoded text."""
    if not encoded:
        raise UserDataError("instance has no user data")
    try:
        raw = base64.b64decode(encoded, validate=True)
        return raw.decode("utf-8-sig")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise UserDataError("user data is not base64 of UTF-8 text") from exc


def parse_bootstrap_call(user_data: str) -> BootstrapCall:
    """The bootstrap call in decoded user data; raises ``UserDataError`` when there is none,
    more than one, or its arguments cannot be read."""
    blocks = _POWERSHELL_BLOCK.findall(user_data)
    if not blocks:
        raise UserDataError("user data has no <powershell> block")
    script = "\n".join(blocks)
    script_vars = {
        m.group("var").lower()
        for m in _ASSIGNMENT.finditer(script)
        if BOOTSTRAP_SCRIPT.lower() in m.group("value").lower()
    }
    calls: list[str] = []
    # PowerShell ends lines only at CR and LF; str.splitlines() would also break at U+2028 etc.
    for line in re.split(r"\r\n|\r|\n", script):
        rest = _call_arguments(line.strip(), script_vars)
        if rest is not None:
            calls.append(rest)
    if not calls:
        raise UserDataError(f"user data never calls {BOOTSTRAP_SCRIPT}")
    if len(calls) > 1:
        raise UserDataError(f"user data calls {BOOTSTRAP_SCRIPT} {len(calls)} times")
    return BootstrapCall(arguments=_parse_arguments(calls[0]))


def _call_arguments(line: str, script_vars: set[str]) -> str | None:
    """The argument text when ``line`` invokes the bootstrap script, else None."""
    if line.startswith("#"):
        return None
    invoked = line.startswith(("&", ".")) and not line.startswith(".\\")
    body = line[1:].lstrip() if invoked else line
    token, end = _read_word(body, 0)
    if token is None:
        return None
    if token.lower().endswith(BOOTSTRAP_SCRIPT.lower()):
        return body[end:]
    variable = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_:]*)", token)
    if invoked and variable and variable.group(1).lower() in script_vars:
        return body[end:]
    return None


def _read_word(text: str, i: int) -> tuple[str | None, int]:
    if i >= len(text):
        return None, i
    if text[i] in _QUOTES:
        return _read_verbatim(text, i)
    if text[i] == '"':
        end = text.find('"', i + 1)
        if end < 0:
            raise UserDataError("unterminated double-quoted string")
        return text[i + 1 : end], end + 1
    match = re.match(r"[^\s,]+", text[i:])
    if not match:
        return None, i
    return match.group(0), i + match.end()


def _read_verbatim(text: str, start: int) -> tuple[str, int]:
    value: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch in _QUOTES:
            if i + 1 < len(text) and text[i + 1] in _QUOTES:
                value.append(text[i + 1])
                i += 2
                continue
            return "".join(value), i + 1
        value.append(ch)
        i += 1
    raise UserDataError("unterminated single-quoted string")


def _parse_arguments(text: str) -> dict[str, tuple[str, ...]]:
    arguments: dict[str, tuple[str, ...]] = {}
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text) or _REDIRECTION.match(text[i:]) or text[i] in "|;":
            return arguments
        match = re.match(r"-([A-Za-z][A-Za-z0-9]*)(:?)", text[i:])
        if not match:
            raise UserDataError(f"expected a parameter name at {text[i : i + 20]!r}")
        name = match.group(1)
        i += match.end()
        while i < len(text) and text[i].isspace() and not match.group(2):
            i += 1
        values: list[str] = []
        while True:
            value, i = _read_word(text, i)
            if value is None:
                break
            values.append(value)
            if i < len(text) and text[i] == ",":
                i += 1
                continue
            break
        if name.lower() in (k.lower() for k in arguments):
            raise UserDataError(f"parameter -{name} given twice")
        arguments[name] = tuple(values) or ("",)
