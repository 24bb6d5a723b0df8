"""Reading the Start-EKSBootstrap.ps1 call out of user data, as a Windows node would run it."""

from __future__ import annotations

import base64

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from localcloud.aws.userdata import UserDataError, decode_user_data, parse_bootstrap_call
from winnodes.userdata.powershell import SINGLE_QUOTE_CHARACTERS, quote

# Every character PowerShell ends a verbatim string at (U+0027, U+2018-U+201B), spelled out here
# rather than taken from the product so a quote character the product forgets still gets tested.
QUOTES = "'\u2018\u2019\u201a\u201b"


def script(call: str) -> str:
    return (
        "<powershell>\n"
        "[string]$EKSBootstrapScriptFile = "
        '"$env:ProgramFiles\\Amazon\\EKS\\Start-EKSBootstrap.ps1"\n'
        f"{call}\n</powershell>"
    )


def test_reads_the_variable_call_form_terraform_uses() -> None:
    text = script(
        "& $EKSBootstrapScriptFile -EKSClusterName 'prod' -APIServerEndpoint 'https://x' "
        "-Base64ClusterCA 'Q0E=' -ExcludedSnatCIDRs '10.0.0.0/8','192.168.0.0/16' 3>&1 4>&1"
    )
    call = parse_bootstrap_call(text)
    assert (call.cluster_name, call.api_server_endpoint, call.base64_cluster_ca) == (
        "prod",
        "https://x",
        "Q0E=",
    )
    assert call.arguments["ExcludedSnatCIDRs"] == ("10.0.0.0/8", "192.168.0.0/16")


def test_reads_a_direct_call_to_the_script_path() -> None:
    text = (
        '<powershell>\n& "C:\\Program Files\\Amazon\\EKS\\Start-EKSBootstrap.ps1" '
        "-EKSClusterName 'c' -APIServerEndpoint 'https://e' -Base64ClusterCA 'Q0E='\n</powershell>"
    )
    assert parse_bootstrap_call(text).cluster_name == "c"


def test_the_quote_characters_tested_are_the_ones_the_product_doubles() -> None:
    assert frozenset(QUOTES) == SINGLE_QUOTE_CHARACTERS


@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(QUOTES),
            st.characters(blacklist_categories=("Cs", "Cc")),
        ),
        max_size=40,
    )
)
@example("'")
@example("\u2018")
@example("\u2019")
@example("\u201a")
@example("\u201b")
@example("it\u2019s '\u2018quoted\u201b'")
@example("\u2019 -APIServerEndpoint \u2018evil")
def test_single_quoted_arguments_round_trip(value: str) -> None:
    text = script(
        f"& $EKSBootstrapScriptFile -EKSClusterName {quote(value)} -APIServerEndpoint 'e'"
    )
    assert parse_bootstrap_call(text).cluster_name == value


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_unicode_line_separators_inside_a_string_do_not_end_the_line(separator: str) -> None:
    # The product accepts these in free text (e.g. kubelet extra args): only Cc/Cs are refused.
    value = f"a{separator}b"
    text = script(
        f"& $EKSBootstrapScriptFile -EKSClusterName {quote(value)} -APIServerEndpoint 'e'"
    )
    assert parse_bootstrap_call(text).cluster_name == value


@pytest.mark.parametrize(
    "text",
    [
        "#!/bin/bash\n/etc/eks/bootstrap.sh prod",
        "<powershell>Write-Output 'no bootstrap'</powershell>",
        "<powershell># & $x Start-EKSBootstrap.ps1\n</powershell>",
        script(
            "& $EKSBootstrapScriptFile -EKSClusterName 'a'\n"
            "& $EKSBootstrapScriptFile -EKSClusterName 'b'"
        ),
        script("& $EKSBootstrapScriptFile -EKSClusterName 'unterminated"),
        script("& $EKSBootstrapScriptFile -EKSClusterName 'a' -EKSClusterName 'b'"),
    ],
)
def test_unreadable_or_missing_calls_are_errors(text: str) -> None:
    with pytest.raises(UserDataError):
        parse_bootstrap_call(text)


def test_user_data_must_be_base64_text() -> None:
    assert (
        decode_user_data(base64.b64encode(b"<powershell></powershell>"))
        == "<powershell></powershell>"
    )
    for bad in (None, "", "not base64!", base64.b64encode(b"\xff\xfe\xfa")):
        with pytest.raises(UserDataError):
            decode_user_data(bad)
