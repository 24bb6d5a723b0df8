"""Fixtures every functional test shares."""

from collections.abc import Iterator

import pytest

from winnodes.observability import metrics


@pytest.fixture(autouse=True)
def no_metrics_left() -> Iterator[None]:
    """Powertools Metrics is one module-level object: metrics a test left unflushed would show
    in the next test's metric set."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
