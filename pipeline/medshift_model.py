"""The MLflow pyfunc of a MedShift export, logged as *models from code* (no pickled classes):
``mlflow.pyfunc.log_model(python_model=<this file>, artifacts={"export": models/medshift})``.

At load, ``load_context`` rebuilds the model with ``load_medshift`` from the logged export
directory, and ``predict`` translates with the library (``translation.translate``), so a
served answer equals ``medshift translate`` for the same input and params.

Input: (N, 1, H, W) float32 in [0, 1] at the model's working size. Params (declared in the
signature with types and defaults): source, target (defaults: params.register), tau, solver,
nfe, guidance, seed (defaults: params.translate's, the same as ``medshift translate``'s).
MLflow drops params a signature does not declare with only a log warning; this file wraps
MLflow's params check so that, for this model's params schema, an unknown param is refused
(400 over HTTP) instead of silently ignored.
"""

from __future__ import annotations

import os
import warnings

for _key in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):  # before mlflow is imported
    os.environ.setdefault(_key, "true")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.pyfunc.model import PythonModel  # noqa: E402

PARAM_TYPES = {"source": "string", "target": "string", "tau": "double", "solver": "string",
               "nfe": "long", "guidance": "double", "seed": "long"}


def _refusing_unknown(original):
    """MLflow's params check, refusing keys outside a MedShift params schema."""

    def enforce(params, schema):
        names = {p.name for p in schema.params} if schema is not None else set()
        if names == set(PARAM_TYPES) and isinstance(params, dict):
            unknown = sorted(map(str, set(params) - names))
            if unknown:
                raise MlflowException.invalid_parameter_value(
                    f"unknown params {unknown}; this model takes {sorted(names)}")
        return original(params, schema)

    setattr(enforce, "medshift_guard", True)  # noqa: B010 (a marker on a function)
    return enforce


def install_param_guard() -> None:
    """Wrap ``mlflow.pyfunc._enforce_params_schema`` once per process (idempotent)."""
    import mlflow.pyfunc as pyfunc

    if not getattr(pyfunc._enforce_params_schema, "medshift_guard", False):
        pyfunc._enforce_params_schema = _refusing_unknown(pyfunc._enforce_params_schema)


# the signature is explicit: MLflow's advice to add type hints (at class creation and every
# load) does not apply
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")


class MedShiftPyFunc(PythonModel):
    """Translate an image batch between classes with a MedShift export."""

    def load_context(self, context):
        import torch

        from medshift.models.export import load_medshift

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = load_medshift(context.artifacts["export"], device)

    def predict(self, context, model_input, params=None):
        """(N, 1, H, W) float32 in [0, 1] -> translated (N, 1, H, W) float32 in [0, 1].

        Raises:
            MlflowException (INVALID_PARAMETER_VALUE, a 400 over HTTP): an unknown
            class, a value out of range, or inputs outside [0, 1].
        """
        from medshift.translation.translate import TranslationRequest, translate

        p = dict(params or {})
        x = np.asarray(model_input, dtype=np.float32)
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
            raise MlflowException.invalid_parameter_value(
                "inputs must be finite values in [0, 1] (display convention, bone bright)")
        if p.get("target") not in self.model.classes:
            raise MlflowException.invalid_parameter_value(
                f"target {p.get('target')!r} is not a class of this model: "
                f"{', '.join(self.model.classes)}")
        try:
            request = TranslationRequest(tau=p["tau"], nfe=p["nfe"], solver=p["solver"],
                                         guidance=p["guidance"], seed=p["seed"])
            request.require_full_steps()  # as `medshift translate` refuses it
            result = translate(self.model, x, p["source"], p["target"], request)
        except (KeyError, ValueError) as exc:
            raise MlflowException.invalid_parameter_value(str(exc)) from None
        return result.images


install_param_guard()
mlflow.models.set_model(MedShiftPyFunc())
