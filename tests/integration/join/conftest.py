"""The product deployed on the whole local cloud (localcloud.deployment), one per module."""

from __future__ import annotations

import secrets

import pytest

from localcloud.deployment import Product


@pytest.fixture
def node_role(product: Product) -> tuple[str, str]:
    """A fresh Windows node role and its instance profile: (role ARN, profile ARN)."""
    return product.aws.create_node_role(f"win-node-{secrets.token_hex(3)}")
