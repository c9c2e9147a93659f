"""Shared fixtures: tiny simulator configs and offline, quiet tool settings."""

from __future__ import annotations

import os

import pytest

for key, value in {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
                   "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
                   "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}.items():
    os.environ.setdefault(key, value)


@pytest.fixture
def tiny_sim_config():
    """A fast simulator config: 64 px, two views, all five classes."""
    from medshift.config import SimulateConfig

    def make(**overrides):
        base = dict(subjects=1, views=("PA", "LAT_R"), size=64, workers=1, supersample=1)
        base.update(overrides)
        return SimulateConfig(**base)

    return make
