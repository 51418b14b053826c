"""Wine-quality data: the demo's CSV when available, else a seeded synthetic generator with the same shape.

The demo's file (UCI red wine, CC BY 4.0) is not shipped with mlcatalog; ``generate`` makes rows with the same
12 columns (11 features ``;``-separated, then ``Excellent``/``Poor``), with feature distributions close to the
real data and quality driven mostly by alcohol, volatile acidity and sulphates, as in the real set.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

FEATURES = ["fixedAcidity", "volatileAcidity", "citricAcid", "residualSugar", "chlorides", "freeSulfurDioxide",
            "totalSulfurDioxide", "density", "pH", "sulphates", "Alcohol"]
# (mean, standard deviation, low, high) of each feature in the UCI red wine data
STATS = [(8.32, 1.74, 4.6, 15.9), (0.53, 0.18, 0.12, 1.58), (0.27, 0.19, 0.0, 1.0), (2.54, 1.41, 0.9, 15.5),
         (0.087, 0.047, 0.012, 0.611), (15.9, 10.5, 1.0, 72.0), (46.5, 32.9, 6.0, 289.0),
         (0.9967, 0.0019, 0.990, 1.004), (3.31, 0.15, 2.74, 4.01), (0.66, 0.17, 0.33, 2.0), (10.4, 1.07, 8.4, 14.9)]

Row = tuple[list[float], str]


def generate(n: int = 1599, seed: int = 7) -> list[Row]:
    rng = random.Random(seed)
    rows: list[Row] = []
    for _ in range(n):
        x = [round(min(hi, max(lo, rng.gauss(mu, sd))), 4) for mu, sd, lo, hi in STATS]
        score = 0.9 * (x[10] - 10.4) - 2.5 * (x[1] - 0.53) + 2.0 * (x[9] - 0.66) + rng.gauss(0, 0.6)
        rows.append((x, "Excellent" if score > -0.1 else "Poor"))
    return rows


def load_csv(path: Path) -> list[Row]:
    """The demo's ``WineNewGBTDataSet.csv``: no header, ``;``-separated; rows with other labels are dropped."""
    rows: list[Row] = []
    with path.open(newline="") as f:
        for rec in csv.reader(f, delimiter=";"):
            if len(rec) == 12 and rec[11] in ("Excellent", "Poor"):
                rows.append(([float(v) for v in rec[:11]], rec[11]))
    return rows


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, delimiter=";")
        for x, label in rows:
            w.writerow([*x, label])


def feature_string(x: list[float]) -> str:
    """The demo's request format: ``{"feature": "7.4;0.7;0;1.9;0.076;11;34;0.9978;3.51;0.56;9.4"}``."""
    return ";".join(f"{v:g}" for v in x)
