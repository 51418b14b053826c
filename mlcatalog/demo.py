"""``mlcatalog up --demo``: the seed's whole story on the embedded default, as a user would play it.

1. The wine data as Atlas's Hive hook records it: the demo's tables (``default.wineds_ext`` and
   ``default.wineds_ext_nolabel``, their columns, their S3 location and the process from it) are described to the
   catalog by :class:`DemoTables` when no HiveServer2 is configured, exactly as HiveServer2 would describe them.
2. A git project with the seed's ``lineage.yml`` and ``model.py``, the classifier trained on a seeded synthetic
   wine set (the demo's CSV is never shipped); built when deployed.
3. Deployed on 2 replicas, and a monitor every minute whose reference is the training data.
4. The seed's warm-up traffic (good and bad wines in turn), then a stream drifting toward "Excellent", with
   delayed ground truth for part of the predictions.
5. Where to look is printed. Run again on the same store, it reuses the project, deployment and monitor.

Everything goes through the platform's HTTP API, like the CLI. ``--once`` sends the traffic at once, computes the
monitor's windows over it and stops the server (CI).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from catalog.resolve.errors import TableNotFound
from catalog.resolve.models import HiveColumn, HiveTableInfo

MODEL = "Predict w/ Monitoring & Lineage"
DEPLOYMENT_NAME = "wine-demo"
BUCKET = "mlcatalog-demo"
SOURCE_TABLE = "default.wineds_ext@cm"
NOLABEL_TABLE = "default.wineds_ext_nolabel@cm"
FEATURES = ["fixedAcidity", "volatileAcidity", "citricAcid", "residualSugar", "chlorides", "freeSulfurDioxide",
            "totalSulfurDioxide", "density", "pH", "sulphates", "Alcohol"]
_CREATED_MS = 1_589_155_200_000  # 2020-05-11, the seed's commit


def demo_missing() -> str | None:
    """Why the demo cannot run here (its extra is not installed), or None."""
    try:
        import joblib  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError:
        return "the demo needs scikit-learn: pip install 'mlcatalog[demo]'"
    if shutil.which("git") is None:
        return "the demo needs git (its model project is a git repository)"
    return None


class DemoTables:
    """The seed's two tables, described as HiveServer2 would (the catalog's TableDescriber)."""

    def describe_table(self, db: str, table: str) -> HiveTableInfo:
        columns = [HiveColumn(name=f.lower(), type="double", position=i) for i, f in enumerate(FEATURES)]
        if (db, table) == ("default", "wineds_ext"):
            columns.append(HiveColumn(name="quality", type="string", position=len(FEATURES)))
            location = f"s3a://{BUCKET}/wine_dataset/data"
        elif (db, table) == ("default", "wineds_ext_nolabel"):
            location = f"s3a://{BUCKET}/tmp/wine_pred_hive"
        else:
            raise TableNotFound(db, table)  # the demo knows only its two tables
        return HiveTableInfo(db=db, table=table, columns=columns, table_type="EXTERNAL_TABLE", location=location,
                             owner="cdsw", create_time_ms=_CREATED_MS, provider="hive",
                             parameters={"EXTERNAL": "TRUE", "comment": "red wine quality (mlcatalog demo)"})

    def close(self) -> None:
        pass


class Demo:
    def __init__(self, base_url: str, api_key: str, store: Path, *, say: Callable[[str], None] = print,
                 atlas_auth: tuple[str, str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.atlas_auth = atlas_auth
        self.http = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {api_key}"}, timeout=600)
        self.dir = store / "demo"
        self.say = say

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.http.request(method, path, json=body, params=params or None)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {r.status_code}: {r.text[:500]}")
        return r.json()

    # -- the story ------------------------------------------------------------------------------------
    def run(self, *, once: bool) -> dict[str, Any]:
        project, training = self.project()
        d = self.deployment(project)
        self.table_process(d["build_crn"])
        self.monitor(d["crn"], training)
        model = _load_model(project)
        phases = [("the seed's warm-up traffic: good and bad wines in turn", balanced(model, 300, 21)),
                  ('a stream drifting toward "Excellent"', toward_excellent(300, 22)),
                  ("good and bad wines again", balanced(model, 300, 23))]
        windows = []
        for what, rows in phases:
            self.say(f"demo: sending {len(rows)} predictions: {what}")
            windows.append(self.traffic(d["accessKey"], rows, pace_s=0 if once else 70 / len(rows)))
        results = [self._call("POST", f"/api/v1/serving/monitors/{d['crn']}/run",
                              {"start_ms": s, "end_ms": e})[0] for s, e in windows] if once else []
        for r in results:
            cols = ", ".join(r["drifted_columns"]) or "-"
            acc = (r.get("classification") or {}).get("accuracy")
            self.say(f"demo: window of {r['predictions']} predictions: drift {r['status']} (columns: {cols}); "
                     f"accuracy {'-' if acc is None else f'{acc:.2f}'}")
        lineage = self._call("GET", f"/api/v1/deployments/{d['crn']}/lineage")
        self.say("demo: lineage " + " <- ".join(_layers(lineage["tree"])))
        self.where(d["crn"])
        return {"deployment": d, "windows": results, "lineage": lineage}

    def project(self) -> tuple[Path, Path]:
        """The seed's project as a git repository, with its model trained (reused when present)."""
        from serving.examples.wine.data import generate
        from serving.examples.wine.train import train

        project = self.dir / "wine-project"
        training = self.dir / "training.csv"
        if not (project / ".git").is_dir():
            examples = Path(__file__).resolve().parents[1] / "serving" / "examples" / "wine"
            project.mkdir(parents=True, exist_ok=True)
            for name in ("lineage.yml", "model.py"):
                shutil.copy(examples / name, project / name)
            accuracy = train(project / "wine_model.joblib")
            self.say(f"demo: trained the wine classifier (accuracy {accuracy:.2f} on held-out rows)")
            _git(project, "init", "-q", "-b", "main")
            (project / ".gitignore").write_text("wine_model.joblib\n")
            _git(project, "add", "lineage.yml", "model.py", ".gitignore")
            _git(project, "-c", "user.name=mlcatalog demo", "-c", "user.email=demo@mlcatalog.invalid", "commit",
                 "-q", "-m", "wine quality model with monitoring and lineage")
        if not training.is_file():
            with training.open("w") as f:
                f.write(";".join(c.lower() for c in FEATURES) + ";quality\n")
                for x, label in generate(1599, 7):  # what train() fits on
                    f.write(";".join(f"{v:g}" for v in x) + f";{label}\n")
        return project, training

    def deployment(self, project: Path) -> dict[str, Any]:
        for d in self._call("GET", "/api/v1/serving/deployments"):
            if d["name"] == DEPLOYMENT_NAME and d["status"] == "deployed":
                self.say(f"demo: reusing deployment {d['crn']}")
                return {"crn": d["crn"], "accessKey": d["access_key"], "build_crn": d["build_crn"]}
        self.say("demo: building and deploying the model on 2 replicas")
        d = self._call("POST", "/api/v1/serving/deployments", {
            "project_dir": str(project), "model": MODEL, "file": "model.py", "function": "predict",
            "replicas": 2, "name": DEPLOYMENT_NAME})
        self.say(f"demo: deployed {d['crn']}")
        return {"crn": d["crn"], "accessKey": d["accessKey"], "build_crn": d["buildCrn"]}

    def table_process(self, build: str) -> None:
        """The seed's ``INSERT INTO wineds_ext_nolabel SELECT ... FROM wineds_ext`` as Atlas's Hive hook records it:
        a hive_process from one table to the other, written once the build has recorded both tables."""
        if self.atlas_auth is None:
            return
        deadline = time.monotonic() + 60
        while True:  # the build reaches the catalog through the outbox, right after the deployment
            r = self.http.get(f"/api/v1/builds/{build}/inputs")
            names = {i["qualified_name"] for i in r.json()} if r.status_code == 200 else set()
            if {SOURCE_TABLE, NOLABEL_TABLE} <= names:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the build's tables did not reach the catalog: {r.status_code} {r.text[:300]}")
            time.sleep(0.2)
        qn = f"{NOLABEL_TABLE}:{_CREATED_MS + 60_000}"
        entity = {"typeName": "hive_process", "attributes": {
            "qualifiedName": qn, "name": qn, "operationType": "QUERY", "userName": "cdsw",
            "startTime": _CREATED_MS + 60_000, "endTime": _CREATED_MS + 61_000, "clusterName": "cm",
            "queryText": "INSERT INTO default.wineds_ext_nolabel SELECT " + ", ".join(f.lower() for f in FEATURES)
                         + " FROM default.wineds_ext",
            "queryPlan": "Not Supported", "queryId": "",
            "inputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": SOURCE_TABLE}}],
            "outputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": NOLABEL_TABLE}}]}}
        r = self.http.post("/api/atlas/v2/entity", json={"entity": entity}, auth=self.atlas_auth)
        if r.status_code >= 400:
            raise RuntimeError(f"Atlas refused the table process: HTTP {r.status_code}: {r.text[:300]}")

    def monitor(self, crn: str, training: Path) -> None:
        r = self.http.get(f"/api/v1/serving/monitors/{crn}")
        if r.status_code == 200:
            return
        self._call("POST", "/api/v1/serving/monitors", {
            "deployment_crn": crn, "every_ms": 60_000,
            "reference": {"file": str(training), "column_map": {"prediction": "quality"}}})
        self.say("demo: monitoring drift and accuracy every minute against the training data")

    def traffic(self, access_key: str, rows: list[tuple[list[float], str]], *, pace_s: float) -> tuple[int, int]:
        """Predictions for ``rows``; the true label of every other one is reported later (delayed ground truth).
        Returns the [start, end) window in ms that holds exactly these predictions."""
        from serving.examples.wine.data import feature_string

        time.sleep(0.01)
        start = int(time.time() * 1000)
        truth = []
        for i, (x, label) in enumerate(rows):
            r = self.http.post("/model", json={"accessKey": access_key, "request": {"feature": feature_string(x)}})
            if r.status_code != 200:
                raise RuntimeError(f"the model answered HTTP {r.status_code}: {r.text[:300]}")
            if i % 2 == 0:
                truth.append((r.json()["response"]["uuid"], label))
            if pace_s:
                time.sleep(pace_s)
        time.sleep(0.05)
        end = int(time.time() * 1000)
        for uuid, label in truth:
            self._call("POST", "/api/v1/metrics/delayed", {"prediction_uuid": uuid,
                                                           "metrics": {"actual_result": label}})
        return start, end

    def where(self, crn: str) -> None:
        for line in (f"demo: deployment lineage  {self.base}/api/v1/deployments/{crn}/lineage",
                     f"demo: drift and accuracy  {self.base}/api/v1/serving/monitors/{crn}/windows  "
                     f"(mlcatalog monitor list)",
                     f"demo: metrics (CML)       {self.base}/api/v1/metrics?model_deployment_crn={crn}",
                     f"demo: Atlas API           {self.base}/api/atlas/v2/search/basic?typeName=ml_model_deployment",
                     f"demo: Prometheus          {self.base}/metrics"):
            self.say(line)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _load_model(project: Path) -> Any:
    import joblib

    return joblib.load(project / "wine_model.joblib")


def balanced(model: Any, n: int, seed: int) -> list[tuple[list[float], str]]:
    """Good and bad wines in turn, as the model judges them; the label is the wine's true quality."""
    from serving.examples.wine.data import generate

    rows = generate(4 * n, seed)
    judged = model.predict([x for x, _ in rows])
    good = [r for r, p in zip(rows, judged, strict=True) if p == "Excellent"]
    bad = [r for r, p in zip(rows, judged, strict=True) if p == "Poor"]
    return [pair[i % 2] for i, pair in enumerate(zip(good, bad, strict=False))][:n]


def toward_excellent(n: int, seed: int) -> list[tuple[list[float], str]]:
    from serving.examples.wine.data import generate

    return [r for r in generate(8 * n, seed) if r[1] == "Excellent" and r[0][10] > 10.6][:n]


def _layers(tree: dict[str, Any]) -> list[str]:
    """The deployment's lineage as layers, nearest first: ``ml_model_deployment <- ml_model_build <- ...``."""
    out: list[str] = []
    level = [tree]
    while level:
        out.append("/".join(sorted({n["type_name"] for n in level})))
        level = [u for n in level for u in n.get("upstream", [])]
    return out
