"""`medshift registry` hands over to pipeline.registry at run time, and says in one line
when the pipeline is not there (the library never imports it)."""

from __future__ import annotations

import importlib

from medshift.cli import main


def test_registry_without_the_pipeline_package_is_one_line(monkeypatch, capsys):
    real = importlib.import_module

    def missing(name, *args):
        if name == "pipeline.registry":
            raise ImportError("No module named 'pipeline'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    assert main(["registry", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pipeline package is not importable" in err


def test_registry_usage_error_is_one_line(capsys):
    assert main(["registry", "promote"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "medshift registry: error:" in err
