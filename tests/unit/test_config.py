"""Config per params.yaml section: defaults live in params.yaml (a dataclass default, where
one exists, equals it), sections round-trip, nested model specs merge with profiles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.autoencoder_report import AutoencoderReportConfig
from medshift.config.base import ConfigError, load_section, merge, to_dict
from medshift.config.classifier import ClassifierConfig
from medshift.config.ingest import IngestConfig
from medshift.config.register import RegisterConfig
from medshift.config.simulate import SimulateConfig
from medshift.config.split import SplitConfig
from medshift.config.translate import TranslateConfig
from medshift.config.velocity import VelocityConfig

REPO = Path(__file__).resolve().parents[2]
SECTIONS = {"simulate": SimulateConfig, "ingest": IngestConfig, "split": SplitConfig,
            "classifier": ClassifierConfig, "autoencoder": AutoencoderConfig,
            "autoencoder_report": AutoencoderReportConfig, "velocity": VelocityConfig,
            "translate": TranslateConfig, "register": RegisterConfig}


def _defaults(cls) -> dict:
    """Field defaults of a config dataclass, nested dataclasses expanded."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = to_dict(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = to_dict(f.default_factory())
    return out


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in values.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_dataclass_defaults_equal_params_yaml(section):
    params = yaml.safe_load((REPO / "params.yaml").read_text())[section]
    if section == "split":
        params = {**params, "fractions": [list(kv) for kv in params["fractions"].items()]}
    defaults, given = _flat(_defaults(SECTIONS[section])), _flat(params)
    disagree = {k: (v, given[k]) for k, v in defaults.items() if k in given and v != given[k]}
    assert disagree == {}, f"params.{section}: (default, params.yaml) {disagree}"
    # a key params.yaml omits takes the code default: only keys meant to stay optional
    assert set(defaults) - set(given) <= {"first_subject"}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_section_loads_and_round_trips(section):
    cls = SECTIONS[section]
    cfg = cls.from_params(load_section(REPO / "params.yaml", section))
    if hasattr(cfg, "to_dict"):
        assert cls.from_params(cfg.to_dict()) == cfg


def test_unknown_and_nested_unknown_keys_are_named():
    with pytest.raises(ConfigError, match=r"params.velocity: unknown keys \['stepz'\]"):
        VelocityConfig.from_params({"stepz": 3})
    with pytest.raises(ConfigError, match=r"params.autoencoder.model: unknown keys"):
        AutoencoderConfig.from_params({"model": {"latent_chanels": 4}})


def test_profile_merges_nested_model_keys():
    merged = merge({"model": {"factor": 4, "texture_bands": 2}, "steps": 1},
                   {"model": {"factor": 8}})
    assert merged == {"model": {"factor": 8, "texture_bands": 2}, "steps": 1}


def test_run_fingerprint_ignores_only_logging_and_drawing_keys():
    base = VelocityConfig()
    for key, value in {"log_every": 7, "checkpoint_every": 9, "sample_every": 3,
                       "sample_nfe": 2, "sample_method": "euler", "guidance": 3.0,
                       "sample_tau": 0.2}.items():
        assert dataclasses.replace(base, **{key: value}).run_fingerprint() == \
            base.run_fingerprint(), key
    for key, value in {"lr": 1e-3, "steps": 5, "seed": 1, "p_uncond": 0.1}.items():
        assert dataclasses.replace(base, **{key: value}).run_fingerprint() != \
            base.run_fingerprint(), key
    ae = AutoencoderConfig()
    assert dataclasses.replace(ae, log_every=3, checkpoint_every=5).run_fingerprint() == \
        ae.run_fingerprint()
    assert dataclasses.replace(ae, edge_weight=0.5).run_fingerprint() != ae.run_fingerprint()
