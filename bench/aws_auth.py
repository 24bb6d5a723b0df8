"""aws-auth merge: how long authorizing the node role takes in a large `mapRoles`, read with
libyaml (what the functions use where PyYAML has it built in) and with PyYAML's own parser.
Prints the figures and writes bench/results/aws_auth.json.

    .venv/bin/python bench/aws_auth.py [--entries 500 5000] [--runs 5]

The reconciler reads aws-auth of every cluster in aws-auth mode on every pass; a ConfigMap holds
at most 1 MiB, about 5,000 entries like these."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from unittest.mock import patch

import yaml

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "layers" / "winnodes"))

from winnodes.decisions import aws_auth  # noqa: E402
from winnodes.models.identifiers import RoleArn  # noqa: E402

RESULTS = ROOT / "bench" / "results"
ROLE = RoleArn.parse("arn:aws:iam::111122223333:role/WindowsNodes")
PARSERS = {"libyaml": yaml.CSafeLoader, "pyyaml": yaml.SafeLoader}


def map_roles(entries: int) -> str:
    return "".join(
        f"- rolearn: arn:aws:iam::111122223333:role/team-{i}\n"
        f"  username: {aws_auth.NODE_USERNAME}\n"
        "  groups:\n    - system:bootstrappers\n    - system:nodes\n"
        for i in range(entries)
    )


def merge_seconds(text: str, parser: type, runs: int) -> float:
    samples = []
    with patch.object(aws_auth, "_loader", lambda: parser):
        for _ in range(runs):
            started = time.perf_counter()
            merge = aws_auth.merge_node_role({"mapRoles": text}, ROLE)
            samples.append(time.perf_counter() - started)
            assert merge.changed, "the role was to be appended"
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--entries", type=int, nargs="+", default=[500, 5000], help="mapRoles sizes to merge into"
    )
    parser.add_argument("--runs", type=int, default=5, help="merges per size and parser")
    args = parser.parse_args()
    if not yaml.__with_libyaml__:
        raise SystemExit("PyYAML here is built without libyaml: nothing to compare")
    results = []
    for entries in args.entries:
        text = map_roles(entries)
        row = {"entries": entries, "bytes": len(text.encode())}
        for name, loader in PARSERS.items():
            row[f"{name}_s"] = merge_seconds(text, loader, args.runs)
        results.append(row)
        print(
            f"{entries:>6} entries ({row['bytes'] / 1024:7.0f} KiB)   "
            f"libyaml {row['libyaml_s']:6.2f} s   pyyaml {row['pyyaml_s']:6.2f} s   "
            f"x{row['pyyaml_s'] / row['libyaml_s']:.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "aws_auth.json").write_text(
        json.dumps({"runs": args.runs, "merges": results}) + "\n"
    )


if __name__ == "__main__":
    main()
