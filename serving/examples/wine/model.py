"""The served model, as in the seed's ``model.py``: the 11 features and the prediction tracked per call."""

import os
from typing import Any

import joblib

import cdsw

FEATURES = ["fixedAcidity", "volatileAcidity", "citricAcid", "residualSugar", "chlorides", "freeSulfurDioxide",
            "totalSulfurDioxide", "density", "pH", "sulphates", "Alcohol"]
MODEL = joblib.load(os.environ.get("WINE_MODEL_PATH", "wine_model.joblib"))


@cdsw.model_metrics
def predict(args: dict[str, Any]) -> dict[str, str]:
    values = [float(v) for v in str(args["feature"]).split(";")]
    if len(values) != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} features, got {len(values)}")
    for name, value in zip(FEATURES, values, strict=True):
        cdsw.track_metric(name, value)
    result = str(MODEL.predict([values])[0])
    cdsw.track_metric("prediction", result)
    return {"result": result}
