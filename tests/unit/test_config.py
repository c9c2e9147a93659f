"""Config per params.yaml section: defaults live in params.yaml (a dataclass default, where
one exists, equals it), sections round-trip, nested model specs merge with profiles."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from medshift.config.autoencoder import AutoencoderConfig
from medshift.config.autoencoder_report import AutoencoderReportConfig
from medshift.config.base import ConfigError, load_section, merge, to_dict
from medshift.config.classifier import ClassifierConfig
from medshift.config.ingest import IngestConfig
from medshift.config.orchestration import OrchestrationConfig
from medshift.config.register import RegisterConfig
from medshift.config.simulate import SimulateConfig
from medshift.config.split import SplitConfig
from medshift.config.translate import TranslateConfig
from medshift.config.velocity import VelocityConfig

REPO = Path(__file__).resolve().parents[2]
SECTIONS = {"simulate": SimulateConfig, "ingest": IngestConfig, "split": SplitConfig,
            "classifier": ClassifierConfig, "autoencoder": AutoencoderConfig,
            "autoencoder_report": AutoencoderReportConfig, "velocity": VelocityConfig,
            "translate": TranslateConfig, "register": RegisterConfig,
            "orchestration": OrchestrationConfig}


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


def test_exp_run_float_strings_are_read_as_numbers(tmp_path):
    # `dvc exp run -S velocity.lr=5e-5` writes `lr: 5e-05`, which YAML reads as a string
    path = tmp_path / "params.yaml"
    path.write_text("velocity:\n  lr: 5e-05\n  steps: 1e3\n  model:\n    base_channels: '16'\n")
    values = load_section(path, "velocity")
    assert values["lr"] == "5e-05"
    config = VelocityConfig.from_params(values)
    assert config.lr == pytest.approx(5e-5) and isinstance(config.lr, float)
    assert config.steps == 1000 and isinstance(config.steps, int)
    assert config.model.base_channels == 16


@pytest.mark.parametrize("key, value, expected", [
    ("lr", "fast", "params.velocity.lr: expected float, got 'fast'"),
    ("steps", 2.5, "params.velocity.steps: expected int, got 2.5"),
    ("steps", True, "params.velocity.steps: expected int, got True"),
])
def test_mistyped_values_are_refused_naming_the_key(key, value, expected):
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.").replace("'", ".")):
        VelocityConfig.from_params({key: value})


def test_a_string_is_not_a_switch():
    with pytest.raises(ConfigError, match=r"params\.classifier\.texture: expected bool"):
        ClassifierConfig.from_params({"texture": "yes"})


def test_tuple_fields_coerce_each_item():
    config = TranslateConfig.from_params({"tau": 0.3, "taus": ["0.3", 0.45]})
    assert config.taus == (0.3, 0.45)
    with pytest.raises(ConfigError, match=r"params\.translate\.taus\[1\]"):
        TranslateConfig.from_params({"taus": [0.3, "x"]})


@pytest.mark.parametrize(("values", "message"), [
    ({"tau": 0.3}, "tau (the default) must be one of taus"),
    ({"sdedit_taus": [0.7]}, "sdedit_taus must be among taus and cross_domain_taus"),
    ({"tau": 0.0, "taus": [0.0]}, "tau and taus must be numbers in (0, 1]"),
    ({"guidance": -1.0}, "guidance must be >= 0"),
])
def test_translate_defaults_are_checked(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        TranslateConfig.from_params(values)


def test_the_library_and_cli_defaults_are_params_translate():
    """`medshift translate` with no --tau/--nfe/--guidance/--solver/--seed translates at
    params.translate's defaults (the served model's and the stage's too)."""
    import argparse

    from medshift.translation.cli import add_arguments
    from medshift.translation.translate import TranslationRequest

    params = yaml.safe_load((REPO / "params.yaml").read_text())["translate"]
    keys = ("tau", "nfe", "solver", "guidance", "seed", "batch_size", "bf16")
    assert {k: getattr(TranslationRequest(), k) for k in keys} == {k: params[k] for k in keys}
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["x.dcm", "--model", "m", "--source", "a", "--target", "b",
                              "--out", "o"])
    assert {k: getattr(args, k) for k in keys[:-1]} == {k: params[k] for k in keys[:-1]}
