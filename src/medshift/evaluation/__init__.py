"""Evaluation math: pure functions of arrays."""
