"""Test helpers shared by unit, functional and integration tests."""
