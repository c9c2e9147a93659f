"""Atomic, checksummed checkpoints; corrupt ones are reported and skipped."""

from __future__ import annotations

import torch

from medshift.training.checkpoint import load_latest, save_checkpoint


def test_latest_valid_checkpoint_is_loaded_and_old_ones_pruned(tmp_path):
    for step in (10, 20, 30):
        save_checkpoint(tmp_path, step, {"step": step, "w": torch.full((3,), float(step))})
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["step-0000020.pt",
                                                              "step-0000030.pt"]
    step, state = load_latest(tmp_path)
    assert step == 30 and torch.equal(state["w"], torch.full((3,), 30.0))


def test_corrupt_or_incomplete_checkpoint_is_skipped(tmp_path, capsys):
    save_checkpoint(tmp_path, 10, {"step": 10})
    newest = save_checkpoint(tmp_path, 20, {"step": 20})
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    assert load_latest(tmp_path)[0] == 10
    assert "fails its checksum; skipped" in capsys.readouterr().out
    newest.with_suffix(".sha256").unlink()  # a kill between the file and its checksum
    assert load_latest(tmp_path)[0] == 10
    assert load_latest(tmp_path / "none") is None


def test_a_fresh_run_never_prunes_its_own_new_checkpoint(tmp_path):
    from medshift.training.checkpoint import load_latest, save_checkpoint

    for step in (30, 40):  # a finished run of another configuration
        save_checkpoint(tmp_path, step, {"step": step, "run_key": "old"})
    path = save_checkpoint(tmp_path, 10, {"step": 10, "run_key": "new"})
    assert path.exists()
    assert sorted(f.name for f in tmp_path.glob("step-*.pt")) == ["step-0000010.pt"]
    assert load_latest(tmp_path, "new")[0] == 10
