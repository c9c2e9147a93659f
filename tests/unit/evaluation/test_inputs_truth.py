"""Reading translations and the simulator's truth; bad files cost only themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medshift.evaluation.inputs import INDEX_COLUMNS, TranslationsError, load_translations
from medshift.evaluation.truth import load_truth


def _index(files_rows):
    rows = [{"image_id": f"id{k}", "source": "syn_low", "target": "real_low",
             "method": "medshift", "tau": 0.45, "solver": "midpoint", "nfe": 8,
             "guidance": 1.5, "seconds": 0.1, "file": f, "row": r}
            for k, (f, r) in enumerate(files_rows)]
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


def test_translations_are_read_in_index_order_and_bad_files_are_skipped(tmp_path):
    good = (np.arange(3 * 8 * 8).reshape(3, 8, 8) * 100).astype(np.uint16)
    np.save(tmp_path / "a.npy", good)
    np.save(tmp_path / "wrong.npy", np.zeros((2, 4, 4), np.uint16))
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    _index([("a.npy", 2), ("broken.npy", 0), ("a.npy", 0), ("wrong.npy", 1),
            ("a.npy", 7)]).to_parquet(tmp_path / "index.parquet")
    t = load_translations(tmp_path, 8)
    assert t.index["image_id"].tolist() == ["id0", "id2"]
    assert t.images.shape == (2, 1, 8, 8) and t.images.dtype == np.float32
    assert np.allclose(t.images[0, 0], good[2] / 65535.0)
    assert np.allclose(t.images[1, 0], good[0] / 65535.0)
    reasons = " ".join(t.skipped)
    assert "broken.npy: unreadable" in reasons and "wrong.npy: expected uint16" in reasons
    assert "point past" in reasons


def test_unusable_index_fails_with_one_clear_message(tmp_path):
    with pytest.raises(TranslationsError, match="unreadable index"):
        load_translations(tmp_path, 8)
    _index([("a.npy", 0)]).drop(columns=["tau"]).to_parquet(tmp_path / "index.parquet")
    with pytest.raises(TranslationsError, match=r"missing columns \['tau'\]"):
        load_translations(tmp_path, 8)


def test_truth_fields_and_renders_are_resized_like_images(tmp_path):
    n = 16
    field = np.zeros((n, n), bool)
    field[2:14, 4:12] = True
    render = np.full((n, n), 65535 // 4, np.uint16)  # stored convention: bone dark
    (tmp_path / "truth" / "0000").mkdir(parents=True)
    np.savez(tmp_path / "truth/0000/PA.npz", real_low=render, field_real_low=field)
    pd.DataFrame({"path": ["real_low/0000/PA.dcm"], "truth_path": ["truth/0000/PA.npz"]}
                 ).to_csv(tmp_path / "manifest.csv", index=False)
    rows = pd.DataFrame({"path": ["elsewhere/real_low/0000/PA.dcm", "x/other/1/PA.dcm"],
                         "class_name": ["real_low", "real_low"]})
    truth = load_truth(rows, tmp_path, 8)
    assert truth.found.tolist() == [True, False]
    expected = np.zeros((8, 8), bool)
    expected[1:7, 2:6] = True  # 2x2 blocks wholly inside the field
    assert np.array_equal(truth.fields[0], expected)
    assert np.allclose(truth.clean[0], 0.75, atol=1e-4)  # bone bright = 1 - stored
    assert truth.fields[1].all() and np.isnan(truth.clean[1]).all()
    assert load_truth(rows, None, 8).found.sum() == 0
