"""The trimmed botocore data behaves as botocore's own for every operation and region we use.

The comparisons go through botocore's public model and client APIs, not through our dicts, so a
shape the trimming dropped or changed shows up as botocore sees it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from hypothesis import given, settings
from hypothesis import strategies as st

from winnodes.adapters import botocore_data
from winnodes.adapters.aws import AwsSession
from winnodes.adapters.botocore_data import (
    OPERATIONS,
    TRIMMED,
    trim_endpoints,
    trim_service_model,
)

FULL_LOADER = botocore.loaders.create_loader()


@pytest.fixture(scope="module")
def trimmed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("botocore") / "data"
    botocore_data.build(target)
    return target


def _session(data_dir: Path | None) -> botocore.session.Session:
    session = botocore.session.Session()
    if data_dir is not None:
        session.register_component(
            "data_loader",
            botocore.loaders.Loader(
                extra_search_paths=[str(data_dir)], include_default_search_paths=False
            ),
        )
    return session


def _describe(shape: Shape | None, seen: frozenset[str] = frozenset()) -> Any:
    """Everything botocore uses to serialize and parse a shape, recursively, docs aside."""
    if shape is None:
        return None
    if shape.name in seen:
        return ("cycle", shape.name)
    seen = seen | {shape.name}
    described: dict[str, Any] = {
        "name": shape.name,
        "type": shape.type_name,
        "serialization": shape.serialization,
        "metadata": shape.metadata,
        "required": getattr(shape, "required_members", None),
    }
    if isinstance(shape, StructureShape):
        described["members"] = {
            name: _describe(member, seen) for name, member in shape.members.items()
        }
    elif isinstance(shape, ListShape):
        described["member"] = _describe(shape.member, seen)
    elif isinstance(shape, MapShape):
        described["key"] = _describe(shape.key, seen)
        described["value"] = _describe(shape.value, seen)
    return described


def _operation(model: OperationModel) -> Any:
    return {
        "http": model.http,
        "input": _describe(model.input_shape),
        "output": _describe(model.output_shape),
        "errors": sorted(_describe(error)["name"] for error in model.error_shapes),
        "auth": model.auth_type,
        "context": model.context_parameters,
        "static_context": model.static_context_parameters,
    }


def _operations() -> Iterator[tuple[str, str]]:
    for service, names in sorted(TRIMMED.items()):
        for name in sorted(names):
            yield service, name


@pytest.mark.parametrize(("service", "operation"), list(_operations()))
def test_every_operation_carried_reads_as_in_botocore(
    trimmed_dir: Path, service: str, operation: str
) -> None:
    full = _session(None).get_service_model(service)
    trimmed = _session(trimmed_dir).get_service_model(service)
    assert trimmed.metadata == full.metadata
    assert _operation(trimmed.operation_model(operation)) == _operation(
        full.operation_model(operation)
    )


def test_clients_carry_only_the_operations_we_call(trimmed_dir: Path) -> None:
    session = AwsSession("eu-west-1", data_dir=str(trimmed_dir))
    ec2 = session.client("ec2")
    assert hasattr(ec2, "describe_instances")
    assert hasattr(ec2, "create_tags")
    assert not hasattr(ec2, "run_instances")
    assert sorted(ec2.meta.service_model.operation_names) == sorted(OPERATIONS["ec2"])
    # Paginators and shared files come along with the models.
    assert ec2.can_paginate("describe_instances")


def _regions() -> Iterator[tuple[str, str]]:
    session = _session(None)
    for partition in session.get_available_partitions():
        for service in sorted(TRIMMED):
            for region in session.get_available_regions(service, partition) or ["us-east-1"]:
                yield service, region


def test_every_region_resolves_the_same_endpoints(trimmed_dir: Path) -> None:
    full, trimmed = _session(None), _session(trimmed_dir)
    checked = 0
    for service, region in _regions():
        for fips in (False, True):
            config = botocore.config.Config(use_fips_endpoint=fips)
            expected = _endpoint(full, service, region, config)
            assert _endpoint(trimmed, service, region, config) == expected, (service, region)
            checked += 1
    assert checked > 100


def _endpoint(
    session: botocore.session.Session, service: str, region: str, config: botocore.config.Config
) -> str:
    client = session.create_client(
        service,
        region_name=region,
        config=config,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )
    return str(client.meta.endpoint_url)


# -- trimming as a pure function ---------------------------------------------------------------

MODELS = {
    service: FULL_LOADER.load_service_model(service, "service-2")
    for service in ("ec2", "autoscaling")
}


def _reachable_shapes(model: dict[str, Any]) -> set[str]:
    names = set()
    for shape in model["shapes"].values():
        for key in ("member", "key", "value"):
            if key in shape:
                names.add(shape[key]["shape"])
        names.update(member["shape"] for member in shape.get("members", {}).values())
    for operation in model["operations"].values():
        for ref in (operation.get("input"), operation.get("output"), *operation.get("errors", [])):
            if ref:
                names.add(ref["shape"])
    return names


def _documented(node: Any) -> bool:
    if isinstance(node, dict):
        return "documentation" in node or any(_documented(value) for value in node.values())
    if isinstance(node, list):
        return any(_documented(value) for value in node)
    return False


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(MODELS)).flatmap(
        lambda service: st.tuples(
            st.just(service),
            st.sets(st.sampled_from(sorted(MODELS[service]["operations"])), min_size=1, max_size=6),
        )
    )
)
def test_trimming_keeps_exactly_the_operations_and_every_shape_they_reach(
    case: tuple[str, set[str]],
) -> None:
    service, operations = case
    model = MODELS[service]
    trimmed = trim_service_model(model, operations)
    assert set(trimmed["operations"]) == operations
    # Closed: every reference resolves; minimal: every kept shape is referenced.
    assert _reachable_shapes(trimmed) == set(trimmed["shapes"])
    assert trimmed["metadata"] == model["metadata"]
    assert not _documented(trimmed)
    for name, shape in trimmed["shapes"].items():
        original = {k: v for k, v in model["shapes"][name].items() if k != "documentation"}
        assert set(shape) == set(original)


def test_trimming_an_unknown_operation_fails_loudly() -> None:
    with pytest.raises(KeyError):
        trim_service_model(MODELS["ec2"], ["NoSuchOperation"])


def test_trimmed_endpoints_keep_every_partition_and_only_our_services() -> None:
    endpoints = FULL_LOADER.load_data("endpoints")
    trimmed = trim_endpoints(endpoints, OPERATIONS)
    assert [p["partition"] for p in trimmed["partitions"]] == [
        p["partition"] for p in endpoints["partitions"]
    ]
    for before, after in zip(endpoints["partitions"], trimmed["partitions"], strict=True):
        assert set(after["services"]) == set(before["services"]) & set(OPERATIONS)
        assert {k: v for k, v in after.items() if k != "services"} == {
            k: v for k, v in before.items() if k != "services"
        }
