"""Train the demo's classifier (scikit-learn random forest) and save it next to the model file."""

from __future__ import annotations

import sys
from pathlib import Path

from serving.examples.wine.data import generate, load_csv

# As the seed's fit.py: RandomForestClassifier(numTrees=10, maxDepth=15, impurity="gini").
TREES = 10
MAX_DEPTH = 15


def train(out: Path, data: Path | None = None, seed: int = 7, *, trees: int = TREES,
          max_depth: int | None = MAX_DEPTH) -> float:
    """Fit on 70% of the rows, return accuracy on the other 30%, save the model with joblib."""
    import joblib
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    rows = load_csv(data) if data is not None else generate(seed=seed)
    x = [r[0] for r in rows]
    y = [r[1] for r in rows]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=seed)
    model = RandomForestClassifier(n_estimators=trees, max_depth=max_depth, random_state=seed, n_jobs=1)
    model.fit(x_train, y_train)
    joblib.dump(model, out)
    return float(model.score(x_test, y_test))


if __name__ == "__main__":
    acc = train(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(f"accuracy {acc:.3f}")
