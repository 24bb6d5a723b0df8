"""A trimmed copy of botocore's data for the operations winnodes calls, built with the layer.

Most of a cold start's client construction is botocore reading its data: the EC2 model alone is
~6 MB of JSON (over 100 ms to parse) for the two EC2 operations we use, the legacy endpoints
file is parsed whole, and the first client lists all ~400 service directories. `build()` writes,
from the installed botocore, a data directory that holds only what our clients read: the service
models cut to `TRIMMED` (every shape they reach kept, documentation dropped), the endpoints
file cut to those services, and the services' rule sets, paginators and extras and botocore's
shared files as they are. `sam build` puts it in the layer (layers/winnodes/Makefile), `make`
builds it for the tests, and `aws.AwsSession` reads only it when it is there.

    python -m winnodes.adapters.botocore_data [directory]
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import botocore.loaders

# The operations the adapters call, by service. A call missing here fails loudly at once
# (the client has no such method), and the integration tests run against the trimmed data.
OPERATIONS: Final[Mapping[str, frozenset[str]]] = {
    "autoscaling": frozenset(
        {
            "CompleteLifecycleAction",
            "DescribeAutoScalingGroups",
            "DescribeLifecycleHooks",
            "DescribeWarmPool",
            "RecordLifecycleActionHeartbeat",
        }
    ),
    "ec2": frozenset({"CreateTags", "DescribeInstances"}),
    "eks": frozenset({"CreateAccessEntry", "DescribeAccessEntry", "DescribeCluster"}),
    "iam": frozenset({"GetInstanceProfile"}),
    "sts": frozenset({"GetCallerIdentity"}),
}

# What botocore's own credential and token providers call (botocore.credentials, .tokens) for a
# run by hand whose profile assumes a role, reads a web identity token, or signs in through IAM
# Identity Center or `aws login`: without these, such a profile fails inside botocore with a
# missing method or an unknown service. Lambda's credentials come from its environment.
CREDENTIAL_OPERATIONS: Final[Mapping[str, frozenset[str]]] = {
    "signin": frozenset({"CreateOAuth2Token"}),
    "sso": frozenset({"GetRoleCredentials"}),
    "sso-oidc": frozenset({"CreateToken"}),
    "sts": frozenset({"AssumeRole", "AssumeRoleWithWebIdentity"}),
}

# Everything the trimmed data carries.
TRIMMED: Final[Mapping[str, frozenset[str]]] = {
    service: OPERATIONS.get(service, frozenset()) | CREDENTIAL_OPERATIONS.get(service, frozenset())
    for service in sorted({*OPERATIONS, *CREDENTIAL_OPERATIONS})
}

# Where the layer carries the data: next to this module, so it travels with the package.
PACKAGED: Final = Path(__file__).with_name("botocore-data")
BOTOCORE_DATA: Final = Path(botocore.loaders.Loader.BUILTIN_DATA_PATH)

_DOCUMENTATION_KEYS: Final = frozenset({"documentation", "documentationUrl"})


def trim_service_model(model: Mapping[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """The model with only `operations` and the shapes they reach; unknown names raise KeyError.
    Everything botocore reads to build requests and parse responses is kept as it was."""
    shapes = model["shapes"]
    kept_operations = {name: _undocumented(model["operations"][name]) for name in operations}
    reached: set[str] = set()
    pending = [
        ref["shape"]
        for operation in kept_operations.values()
        for ref in (operation.get("input"), operation.get("output"), *operation.get("errors", ()))
        if ref
    ]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        pending.extend(_referenced_shapes(shapes[name]))
    return {
        **{
            key: value
            for key, value in model.items()
            if key not in {"operations", "shapes", *_DOCUMENTATION_KEYS}
        },
        "operations": dict(sorted(kept_operations.items())),
        "shapes": {name: _undocumented(shapes[name]) for name in sorted(reached)},
    }


def trim_endpoints(endpoints: Mapping[str, Any], services: Iterable[str]) -> dict[str, Any]:
    """The endpoints document with every partition kept but only `services` in each."""
    wanted = set(services)
    return {
        **endpoints,
        "partitions": [
            {
                **partition,
                "services": {
                    name: entry
                    for name, entry in partition.get("services", {}).items()
                    if name in wanted
                },
            }
            for partition in endpoints["partitions"]
        ],
    }


def build(target: Path, source: Path = BOTOCORE_DATA) -> list[Path]:
    """Writes the trimmed data from botocore's `source` under `target` (replacing what was
    there); returns the files written."""
    loader = botocore.loaders.Loader(
        extra_search_paths=[str(source)], include_default_search_paths=False
    )
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    written = []
    for shared in sorted(source.iterdir()):
        if shared.is_file() and not shared.name.startswith("endpoints."):
            written.append(_copy(shared, staging / shared.name))
    endpoints = trim_endpoints(loader.load_data("endpoints"), TRIMMED)
    written.append(_write(staging / "endpoints.json", endpoints))
    for service, operations in sorted(TRIMMED.items()):
        version = loader.determine_latest_version(service, "service-2")
        for data in sorted((source / service / version).iterdir()):
            # The full model is replaced below; examples are documentation only.
            if not data.name.startswith(("service-2.json", "examples-")):
                written.append(_copy(data, staging / service / version / data.name))
        # Unmerged: the loader applies service-2.sdk-extras (copied above) when it reads ours.
        model = loader.load_data(f"{service}/{version}/service-2")
        path = staging / service / version / "service-2.json"
        written.append(_write(path, trim_service_model(model, sorted(operations))))
    # Swap in whole so a reader never sees half a directory.
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return [target / path.relative_to(staging) for path in written]


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _write(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")))
    return path


def _referenced_shapes(shape: Mapping[str, Any]) -> Iterable[str]:
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]
    for member in shape.get("members", {}).values():
        yield member["shape"]


def _undocumented(node: Mapping[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in node.items() if key not in _DOCUMENTATION_KEYS}
    if "members" in kept:
        kept["members"] = {name: _undocumented(ref) for name, ref in kept["members"].items()}
    return kept


def main(argv: list[str] | None = None) -> None:
    # Imported here: every cold start imports this module (for PACKAGED), only a build runs this.
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "target",
        type=Path,
        nargs="?",
        default=PACKAGED,
        help=f"directory to write (default: {PACKAGED})",
    )
    args = parser.parse_args(argv)
    files = build(args.target)
    size = sum(path.stat().st_size for path in files)
    print(f"trimmed botocore data: {len(files)} files, {size // 1024} KiB in {args.target}")


if __name__ == "__main__":
    main()
