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
    from medshift.config.simulate import SimulateConfig

    def make(**overrides):
        base = dict(subjects=1, views=("PA", "LAT_R"), size=64, workers=1, supersample=1)
        base.update(overrides)
        return SimulateConfig(**base)

    return make


@pytest.fixture(scope="session")
def simulated_tree(tmp_path_factory):
    """A small simulated DICOM tree (8 subjects x 2 views x 5 classes, 64 px), made once."""
    from medshift.config.simulate import SimulateConfig
    from medshift.simulate.dataset import simulate_dataset

    root = tmp_path_factory.mktemp("simulated")
    cfg = SimulateConfig(subjects=8, views=("PA", "LAT_R"), size=64, workers=2, supersample=1)
    simulate_dataset(cfg, root, progress=False)
    return root


@pytest.fixture
def ingest_config():
    """The project's own params.yaml ingest section, pointed at given trees."""
    from pathlib import Path

    from medshift.config.base import load_section
    from medshift.config.ingest import IngestConfig

    params = load_section(Path(__file__).resolve().parents[1] / "params.yaml", "ingest")

    def make(*sources, workers=1, size=32):
        return IngestConfig.from_params({**params, "sources": list(sources), "workers": workers,
                                         "size": size})

    return make
