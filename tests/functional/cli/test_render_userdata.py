"""`winnodes render-userdata` as an operator runs it: the installed console script."""

from __future__ import annotations

import base64
import codecs
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.cli import run
from tests.helpers.golden import GOLDEN, assert_golden
from tests.helpers.powershell import bootstrap_call_arguments

CA = (GOLDEN / "userdata" / "test-ca.b64").read_text().strip()
ENDPOINT = "https://ABCDEF0123456789.gr7.us-east-1.eks.amazonaws.com"


def test_minimal_render_matches_golden() -> None:
    result = run(
        "render-userdata", "--cluster-name", "prod-win", "--endpoint", ENDPOINT, "--ca", CA
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert_golden(result.stdout, "userdata/minimal.ps1")


def test_full_render_matches_golden() -> None:
    result = run(
        "render-userdata",
        "--cluster-name=prod-win",
        f"--endpoint={ENDPOINT}",
        f"--ca={CA}",
        "--service-cidr=10.100.0.0/16",
        "--node-labels=team=payments,node.kubernetes.io/pool=iis",
        "--taints=os=windows:NoSchedule,dedicated:NoExecute",
        "--kubelet-extra-args=--max-pods=40 --eviction-hard=memory.available<500Mi",
        "--kube-proxy-extra-args=--v=2",
        "--excluded-snat-cidrs=10.0.0.0/8,192.168.0.0/16",
        f"--pre-bootstrap={GOLDEN / 'userdata' / 'pre-bootstrap.ps1'}",
        f"--post-bootstrap={GOLDEN / 'userdata' / 'post-bootstrap.ps1'}",
    )
    assert result.returncode == 0, result.stderr
    assert_golden(result.stdout, "userdata/full.ps1")
    script = result.stdout
    assert script.index("Set-TimeZone") < script.index("& $EKSBootstrapScriptFile")
    assert script.index("Write-EventLog") > script.index("& $EKSBootstrapScriptFile")
    assert bootstrap_call_arguments(script)["DNSClusterIP"] == ["10.100.0.10"]
    assert "ContainerRuntime" not in script


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(lambda text: text.encode("utf-8"), id="utf-8"),
        pytest.param(lambda text: text.encode("utf-8-sig"), id="utf-8 with BOM"),
        pytest.param(lambda text: text.encode("utf-16"), id="utf-16 (Windows PowerShell >)"),
        pytest.param(lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), id="utf-16-be"),
    ],
)
def test_snippets_are_read_as_powershell_editors_write_them(
    tmp_path: Path, encoded: Callable[[str], bytes]
) -> None:
    pre = "Set-TimeZone -Id 'W. Europe Standard Time' # Zurich\r\n"
    post = "Write-Output 'joined'\r\n"
    (tmp_path / "pre.ps1").write_bytes(encoded(pre))
    (tmp_path / "post.ps1").write_bytes(encoded(post))
    with_files = run(
        "render-userdata",
        "--cluster-name=prod-win",
        f"--endpoint={ENDPOINT}",
        f"--ca={CA}",
        f"--pre-bootstrap={tmp_path / 'pre.ps1'}",
        f"--post-bootstrap={tmp_path / 'post.ps1'}",
    )
    assert with_files.returncode == 0, with_files.stderr
    # The text, and nothing of the file's byte order mark, lands in the script.
    assert "\ufeff" not in with_files.stdout
    assert "Set-TimeZone -Id 'W. Europe Standard Time' # Zurich" in with_files.stdout
    assert "Write-Output 'joined'" in with_files.stdout


def test_a_snippet_that_is_not_ascii_is_refused_saying_where(tmp_path: Path) -> None:
    # Read in the ANSI code page, as Windows PowerShell 5.1 may read user data, the UTF-8 bytes
    # of the check mark hold a typographic double quote, which would end the string.
    (tmp_path / "post.ps1").write_text('$ok = $true\nWrite-Output "joined \u2713"\n')
    result = run(
        "render-userdata",
        "--cluster-name=prod-win",
        f"--endpoint={ENDPOINT}",
        f"--ca={CA}",
        f"--post-bootstrap={tmp_path / 'post.ps1'}",
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(
        "winnodes: error: --post-bootstrap: U+2713 at line 2, column 22 is not ASCII"
    )
    assert result.stderr.count("\n") == 1


def test_base64_is_the_wrapped_script_encoded() -> None:
    plain = run("render-userdata", "--cluster-name=c", f"--endpoint={ENDPOINT}", f"--ca={CA}")
    encoded = run(
        "render-userdata", "--cluster-name=c", f"--endpoint={ENDPOINT}", f"--ca={CA}", "--base64"
    )
    assert encoded.returncode == 0
    assert base64.b64decode(encoded.stdout.strip(), validate=True).decode() == plain.stdout


def test_no_wrapper_omits_only_the_tags() -> None:
    wrapped = run("render-userdata", "--cluster-name=c", f"--endpoint={ENDPOINT}", f"--ca={CA}")
    bare = run(
        "render-userdata",
        "--cluster-name=c",
        f"--endpoint={ENDPOINT}",
        f"--ca={CA}",
        "--no-wrapper",
    )
    assert "<powershell>" not in bare.stdout
    assert wrapped.stdout == f"<powershell>\n{bare.stdout}</powershell>\n"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--cluster-name=bad name", f"--endpoint={ENDPOINT}", f"--ca={CA}"], "--cluster-name"),
        (["--cluster-name=c", "--endpoint=http://x", f"--ca={CA}"], "--endpoint"),
        (["--cluster-name=c", f"--endpoint={ENDPOINT}", "--ca=Zm9v"], "--ca"),
        (["--cluster-name=c", f"--endpoint={ENDPOINT}"], "--ca"),
        (["--cluster-name=c", "--service-cidr=10.0.0.1/8"], "--service-cidr"),
        (["--cluster-name=c", "--node-labels=a"], "--node-labels"),
        (["--cluster-name=c", "--taints=a=b:Never"], "--taints"),
        (["--cluster-name=c", "--kubelet-extra-args=a\nb"], "--kubelet-extra-args"),
        (["--cluster-name=c", "--excluded-snat-cidrs=x"], "--excluded-snat-cidrs"),
        (["--cluster-name=c", "--pre-bootstrap=/nonexistent/file.ps1"], "--pre-bootstrap"),
    ],
)
def test_invalid_input_is_one_line_naming_the_option_and_exit_2(
    args: list[str], option: str
) -> None:
    result = run("render-userdata", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"winnodes: error: {option}: ")


def test_invalid_input_never_reaches_aws() -> None:
    # An unreachable endpoint: if validation let the bad name through, the error would be AWS's.
    result = run(
        "render-userdata",
        "--cluster-name=bad name",
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert result.returncode == 2
    assert "--cluster-name" in result.stderr


def test_help_documents_every_option() -> None:
    result = run("render-userdata", "--help")
    assert result.returncode == 0
    for option in [
        "--cluster-name",
        "--endpoint",
        "--ca",
        "--region",
        "--service-cidr",
        "--dns-cluster-ip",
        "--node-labels",
        "--taints",
        "--kubelet-extra-args",
        "--kube-proxy-extra-args",
        "--excluded-snat-cidrs",
        "--pre-bootstrap",
        "--post-bootstrap",
        "--no-wrapper",
        "--base64",
    ]:
        assert option in result.stdout


def test_user_data_over_16_kb_is_refused_naming_the_snippet(tmp_path: Path) -> None:
    (tmp_path / "pre.ps1").write_text("# padding\n" * 1700)
    result = run(
        "render-userdata",
        "--cluster-name=prod-win",
        f"--endpoint={ENDPOINT}",
        f"--ca={CA}",
        f"--pre-bootstrap={tmp_path / 'pre.ps1'}",
        "--base64",
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("winnodes: error: --pre-bootstrap: the user data would be ")
    assert result.stderr.endswith(" bytes; EC2 takes at most 16384\n")


@pytest.mark.parametrize(
    ("option", "parameter"),
    [
        ("--kubelet-extra-args", "KubeletExtraArgs"),
        ("--kube-proxy-extra-args", "KubeProxyExtraArgs"),
    ],
)
def test_arguments_for_another_program_may_follow_their_option_as_a_separate_word(
    option: str, parameter: str
) -> None:
    # Every kubelet argument starts with "--", which argparse alone takes for an option.
    separate = run(
        "render-userdata", "--cluster-name=c", f"--endpoint={ENDPOINT}", f"--ca={CA}",
        option, "--v=2 --max-pods=40",
    )  # fmt: skip
    attached = run(
        "render-userdata", "--cluster-name=c", f"--endpoint={ENDPOINT}", f"--ca={CA}",
        f"{option}=--v=2 --max-pods=40",
    )  # fmt: skip
    assert separate.returncode == 0, separate.stderr
    assert separate.stdout == attached.stdout
    assert bootstrap_call_arguments(separate.stdout)[parameter] == ["--v=2 --max-pods=40"]
