"""Orchestration, one service per capability: calls decisions, then ports."""
