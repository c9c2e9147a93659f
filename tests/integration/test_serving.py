"""`mlflow models serve -m models:/medshift@production` on loopback with a tiny 128 px model:
the served answer equals the library's translation for `inputs` and `instances` payloads;
bad shapes, dtypes and params are 4xx with a clear message, never a 500."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from .registry_helpers import register_tiny, served, store_env

PARAMS = {"source": "syn_low", "target": "real_exposure", "tau": 0.6, "nfe": 4, "guidance": 1.0,
          "seed": 3}


@pytest.mark.slow
def test_served_model_answers_like_the_library_and_refuses_bad_requests(tmp_path,
                                                                       monkeypatch):
    env = store_env(tmp_path)
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_ARTIFACT_ROOT"):
        monkeypatch.setenv(key, env[key])
    from medshift.models.export import load_medshift
    from medshift.translation.translate import TranslationRequest, translate

    export = register_tiny(tmp_path, size=128)
    x = np.random.default_rng(0).random((1, 1, 128, 128)).astype(np.float32)
    want = translate(load_medshift(export), x, "syn_low", "real_exposure",
                     TranslationRequest(tau=0.6, nfe=4, guidance=1.0, seed=3)).images
    with served("models:/medshift@production", env) as url:
        post = lambda body: requests.post(f"{url}/invocations", json=body,  # noqa: E731
                                          timeout=60)
        for key in ("inputs", "instances"):
            answer = post({key: x.tolist(), "params": PARAMS})
            assert answer.status_code == 200, answer.text[:500]
            got = np.asarray(answer.json()["predictions"], np.float32)
            assert got.shape == (1, 1, 128, 128)
            np.testing.assert_array_equal(got, want)
        bad_shape = post({"inputs": x[0, 0].tolist(), "params": PARAMS})
        assert bad_shape.status_code == 400
        assert "(-1, 1, 128, 128)" in bad_shape.json()["message"]
        strings = post({"inputs": [[["a"] * 128] * 128], "params": PARAMS})
        assert 400 <= strings.status_code < 500
        for params, message in (({**PARAMS, "taus": 0.3}, "unknown params ['taus']"),
                                ({**PARAMS, "nfe": "many"}, "nfe"),
                                ({**PARAMS, "target": "real_high"}, "real_high")):
            refused = post({"inputs": x.tolist(), "params": params})
            assert refused.status_code == 400, refused.text[:300]
            assert message in refused.json()["message"]
