"""``mlcatalog up --demo``: the seed's whole story on the embedded default, as a user would play it.

1. The wine data as Atlas's Hive hook records it: ``default.wineds_ext`` over the wine CSV's S3 location, and
   ``default.wineds_ext_nolabel`` filled from it by the seed's ``INSERT ... SELECT`` (a ``hive_process`` between
   them). With a HiveServer2 and an S3 configured (settings ``hive.*`` and ``s3.*``) the demo creates them there as
   the seed's setup does (:class:`Warehouse`: the seeded synthetic CSV put in S3 with boto3, the tables created over
   PyHive) and the catalog resolves them from HiveServer2; without, :class:`DemoTables` describes them to the
   catalog exactly as HiveServer2 would.
2. A git project with the seed's ``lineage.yml`` and ``model.py``, the classifier trained on a seeded synthetic
   wine set (the demo's CSV is never shipped); built when deployed.
3. Deployed on 2 replicas, and a monitor every 30 s over 30 s windows whose reference is the training data.
4. The seed's warm-up traffic (good and bad wines in turn), then a stream drifting toward "Excellent", then good and
   bad wines again, with delayed ground truth for every other prediction.
5. Where to look is printed (the pages of this process). Run again on the same store (and the same HiveServer2),
   it reuses the project, tables, deployment and monitor.

Everything goes through the platform's HTTP API, like the CLI. Live, the phases are laid on the monitor's windows
(one window of warm-up, two drifting, one good and bad again, so ok -> drifting -> ok with accuracy within three
minutes), each true label is reported a few seconds after its prediction, and a slower balanced stream then goes
on until Ctrl-C so that the dashboard keeps moving. ``--once`` sends the traffic at once, computes the monitor's
windows over it and stops the server (CI).
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx

from catalog.resolve.errors import TableNotFound
from catalog.resolve.hive import HiveConfig
from catalog.resolve.models import HiveColumn, HiveTableInfo
from catalog.resolve.s3 import S3Config
from mlcatalog.settings import ConfigError, Settings

Row = tuple[list[float], str]

MODEL = "Predict w/ Monitoring & Lineage"
DEPLOYMENT_NAME = "wine-demo"
DEMO_PROJECT = "wine-project"  # the project's directory, in the demo's directory of the store
BUCKET = "mlcatalog-demo"
SOURCE_TABLE = "default.wineds_ext@cm"
NOLABEL_TABLE = "default.wineds_ext_nolabel@cm"
FEATURES = ["fixedAcidity", "volatileAcidity", "citricAcid", "residualSugar", "chlorides", "freeSulfurDioxide",
            "totalSulfurDioxide", "density", "pH", "sulphates", "Alcohol"]
#: The seed's column names (its create_hive_table.py): the features lower-cased, then ``quality``.
COLUMNS = [f.lower() for f in FEATURES]
#: Where the seed's fit.py reads the CSV (``s3a://<bucket>/wine_dataset/data/WineNewGBTDataSet.csv``).
SOURCE_KEY = "wine_dataset/data/WineNewGBTDataSet.csv"
SOURCE_LOCATION = f"s3a://{BUCKET}/wine_dataset/data"
NOLABEL_PREFIX = "tmp/wine_pred_hive"
NOLABEL_LOCATION = f"s3a://{BUCKET}/{NOLABEL_PREFIX}"
INSERT_QUERY = f"INSERT INTO default.wineds_ext_nolabel SELECT {', '.join(COLUMNS)} FROM default.wineds_ext"
_CREATED_MS = 1_589_155_200_000  # 2020-05-11, the seed's commit

MONITOR_EVERY_MS = 30_000
#: While the story plays: 150 predictions a window, 75 labelled, well over the monitor's minimum of 30 for each.
PHASE_RATE = 5.0
#: Afterwards, until Ctrl-C: enough for every window to keep its statistics and accuracy (90 a window, 45
#: labelled), slow enough that a demo left running stays light (about 260k predictions a day).
STEADY_RATE = 3.0
#: A prediction's true label is reported this long after it. Windows are computed once, 2 s after they end
#: (serving/monitoring/service.py LAG_MS): labels of the last second of a window come too late for it.
TRUTH_DELAY_S = 3.0
_REPORT_EVERY_S = 5.0


def demo_dir(store: Path) -> Path:
    """Where the demo keeps its project, training data and access key: in the store, the owner's alone."""
    return store / "demo"


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
        columns = [HiveColumn(name=c, type="double", position=i) for i, c in enumerate(COLUMNS)]
        if (db, table) == ("default", "wineds_ext"):
            columns.append(HiveColumn(name="quality", type="string", position=len(COLUMNS)))
            location = SOURCE_LOCATION
        elif (db, table) == ("default", "wineds_ext_nolabel"):
            location = NOLABEL_LOCATION
        else:
            raise TableNotFound(db, table)  # the demo knows only its two tables
        return HiveTableInfo(db=db, table=table, columns=columns, table_type="EXTERNAL_TABLE", location=location,
                             owner="cdsw", create_time_ms=_CREATED_MS, provider="hive",
                             parameters={"EXTERNAL": "TRUE", "comment": "red wine quality (mlcatalog demo)"})

    def close(self) -> None:
        pass


# -- a real HiveServer2 and S3 --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Warehouse:
    """The HiveServer2 and S3 the demo creates its tables in, as the seed's setup does."""

    hive: HiveConfig
    s3: S3Config


def demo_warehouse(settings: Settings) -> Warehouse | None:
    """The configured HiveServer2 and S3, or None when no HiveServer2 is configured (then :class:`DemoTables`).
    :class:`ConfigError` when the demo cannot use what is configured."""
    if not settings.hive.host:
        return None
    if not settings.s3.endpoint_url:
        raise ConfigError("with a HiveServer2 the demo creates its tables there, over wine data it puts in S3: "
                          "configure S3 too (MLCATALOG_S3_ENDPOINT, MLCATALOG_S3_ACCESS_KEY_ID, "
                          "MLCATALOG_S3_SECRET_ACCESS_KEY)")
    try:
        import boto3  # noqa: F401
        import pyhive  # noqa: F401
    except ImportError:
        raise ConfigError("the demo on a HiveServer2 and S3 needs PyHive and boto3: "
                          "pip install 'mlcatalog[demo,resolve]'") from None
    from mlcatalog.assemble import hive_config

    secret = settings.s3.secret_access_key
    # DDL over s3a and the INSERT ... SELECT run Spark or Tez jobs: far longer than a DESCRIBE's bound.
    hive: HiveConfig = hive_config(settings).model_copy(update={"timeout_s": 600.0})
    return Warehouse(hive=hive, s3=S3Config(
        endpoint_url=settings.s3.endpoint_url, access_key_id=settings.s3.access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None, region=settings.s3.region))


def wine_csv(rows: Iterable[Row]) -> bytes:
    """The seed's CSV format: ``;``-separated, the label last, no header (as the seed's file; Spark would read a
    header as a row of NULLs, it ignores ``skip.header.line.count`` on text tables)."""
    return "".join(";".join(f"{v:g}" for v in x) + f";{label}\n" for x, label in rows).encode()


def table_ddl() -> list[str]:
    """The seed's two tables (its create_hive_table.py), with the sulfur dioxide columns as double, not its bigint
    (the data has fractional values), and the text table over the CSV it was meant for (not over parquet)."""
    features = ", ".join(f"`{c}` double" for c in COLUMNS)
    return [
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`wineds_ext` ({features}, `quality` string) "
        "COMMENT 'red wine quality (mlcatalog demo)' ROW FORMAT DELIMITED FIELDS TERMINATED BY ';' "
        f"STORED AS TEXTFILE LOCATION '{SOURCE_LOCATION}'",
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `default`.`wineds_ext_nolabel` ({features}) STORED AS PARQUET "
        f"LOCATION '{NOLABEL_LOCATION}'",
    ]


def create_tables(w: Warehouse, rows: list[Row], say: Callable[[str], None]) -> int:
    """Put the CSV in S3 (creating the bucket), create the tables over PyHive and fill ``wineds_ext_nolabel`` when it
    is empty; all reused when present. Returns when the ``INSERT ... SELECT`` wrote (epoch ms), the time its
    process is recorded at: the newest of its files in S3, so a rerun records the same process."""
    from botocore.exceptions import BotoCoreError, ClientError

    from catalog.resolve.hive import HiveResolver

    try:
        s3 = _s3_client(w.s3)
        try:
            if _ensure_object(s3, w.s3.region, SOURCE_KEY, wine_csv(rows)):
                say(f"demo: put {len(rows)} synthetic wines in s3://{BUCKET}/{SOURCE_KEY} ({w.s3.endpoint_label})")
            inserted = _hive_setup(w.hive)
            say(f"demo: default.wineds_ext and default.wineds_ext_nolabel are in HiveServer2 {w.hive.address}"
                + (f"; ran: {INSERT_QUERY}" if inserted else " (reused)"))
            written = _newest_ms(s3, NOLABEL_PREFIX + "/")
        finally:
            s3.close()
    except (BotoCoreError, ClientError) as e:
        raise RuntimeError(f"S3 at {w.s3.endpoint_label}: {e}") from None
    with HiveResolver(w.hive) as hive:
        created = hive.describe_table("default", "wineds_ext_nolabel").create_time_ms or 0
    # never the CREATETABLE process's name (the table's creation time), should both fall in one second
    return max(written or 0, created + 1000)


def _s3_client(config: S3Config) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=config.access_key_id,
                                    aws_secret_access_key=config.secret_access_key, region_name=config.region)
    return session.client("s3", endpoint_url=config.endpoint_url, config=Config(
        connect_timeout=config.timeout_s, read_timeout=config.timeout_s, signature_version="s3v4",
        s3={"addressing_style": "path"}))


def _ensure_object(s3: Any, region: str, key: str, body: bytes) -> bool:
    """Create the bucket if missing and put ``key`` unless it is there; True when it was put."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=BUCKET)
    except ClientError as e:
        if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
            raise
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=BUCKET, **where)
    if s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0):
        return False
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/csv")
    return True


def _newest_ms(s3: Any, prefix: str) -> int | None:
    newest = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents") or []:
            ms = int(obj["LastModified"].timestamp() * 1000)
            newest = ms if newest is None or ms > newest else newest
    return newest


def _hive_setup(config: HiveConfig) -> bool:
    """The tables (``IF NOT EXISTS``) and the seed's ``INSERT ... SELECT`` when the target is empty (True: it ran)."""
    from catalog.resolve.hive import pyhive_connect

    try:
        conn = pyhive_connect(config)
    except Exception as e:  # noqa: BLE001 - PyHive and Thrift raise many types; the message is what matters
        raise RuntimeError(f"HiveServer2 {config.address}: {_hive_message(e)}") from None
    try:
        cursor = conn.cursor()
        for statement in table_ddl():
            _execute(cursor, statement, config)
        _execute(cursor, "SELECT count(*) FROM `default`.`wineds_ext_nolabel`", config)
        rows: Any = cursor.fetchall()
        if rows and rows[0][0]:
            return False
        _execute(cursor, INSERT_QUERY, config)
        return True
    finally:
        conn.close()


def _execute(cursor: Any, statement: str, config: HiveConfig) -> None:
    try:
        cursor.execute(statement)
    except Exception as e:  # noqa: BLE001 - see _hive_setup
        raise RuntimeError(f"HiveServer2 {config.address} refused {statement[:80]}...: {_hive_message(e)}") from None


def _hive_message(exc: BaseException) -> str:
    """The server's message from a PyHive error (its argument is the Thrift response), else the error's text."""
    for arg in exc.args:
        message = getattr(getattr(arg, "status", None), "errorMessage", None)
        if message:
            return " ".join(str(message).split())[:500]
    return str(exc) or type(exc).__name__


# -- the story ------------------------------------------------------------------------------------------------
class Demo:
    def __init__(self, base_url: str, api_key: str, store: Path, *, say: Callable[[str], None] = print,
                 atlas_auth: tuple[str, str] | None = None, warehouse: Warehouse | None = None,
                 should_stop: Callable[[], bool] = lambda: False, key_note: str | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.api_key = api_key
        self.atlas_auth = atlas_auth
        self.warehouse = warehouse
        self.should_stop = should_stop
        self.key_note = key_note  # which key opens the pages (they ask for one)
        self.http = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {api_key}"}, timeout=600)
        self.dir = demo_dir(store)
        self.say = say
        self._reported: set[tuple[int, int]] = set()
        self._next_report = 0.0

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.http.request(method, path, json=body, params=params or None)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {r.status_code}: {r.text[:500]}")
        return r.json()

    def run(self, *, once: bool) -> dict[str, Any]:
        from serving.examples.wine.data import generate

        project, training = self.project()
        inserted_ms = None
        if self.warehouse is not None:
            inserted_ms = create_tables(self.warehouse, generate(1599, 7), self.say)
        d = self.deployment(project)
        self.table_process(d["build_crn"], inserted_ms)
        every_ms = self.monitor(d["crn"], training)
        lineage = self._call("GET", f"/api/v1/deployments/{d['crn']}/lineage")
        self.say("demo: lineage " + " <- ".join(_layers(lineage["tree"])))
        self.where(d["crn"])
        model = _load_model(project)
        if once:
            return {"deployment": d, "windows": self.play_once(d, model), "lineage": lineage}
        self.say(f"demo: the monitor computes a window every {every_ms / 1000:g} s; drift and accuracy move on the "
                 "dashboard within three minutes (Ctrl-C stops)")
        self.play_live(d, model, every_ms)
        return {"deployment": d, "windows": [], "lineage": lineage}

    def project(self) -> tuple[Path, Path]:
        """The seed's project as a git repository, with its model trained (reused when present)."""
        from serving.examples.wine.data import generate
        from serving.examples.wine.train import train

        project = self.dir / DEMO_PROJECT
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
        if not training.is_file():  # what train() fits on (and what the demo puts in S3)
            training.write_bytes((";".join([*COLUMNS, "quality"]) + "\n").encode() + wine_csv(generate(1599, 7)))
        return project, training

    def deployment(self, project: Path) -> dict[str, Any]:
        # The platform keeps access keys hashed: the demo keeps its deployment's own, to call it again next time.
        kept = self.dir / "access-key"
        known = kept.read_text().split() if kept.is_file() else []
        for d in self._call("GET", "/api/v1/serving/deployments"):
            if d["name"] == DEPLOYMENT_NAME and d["status"] == "deployed" and known[:1] == [d["crn"]]:
                self.say(f"demo: reusing deployment {d['crn']}")
                return {"crn": d["crn"], "accessKey": known[1], "build_crn": d["build_crn"]}
            if d["name"] == DEPLOYMENT_NAME and d["status"] == "deployed":  # one whose key the demo lost
                self._call("POST", f"/api/v1/serving/stop/{d['crn']}")
        self.say("demo: building and deploying the model on 2 replicas")
        d = self._call("POST", "/api/v1/serving/deployments", {
            "project_dir": str(project), "model": MODEL, "file": "model.py", "function": "predict",
            "replicas": 2, "name": DEPLOYMENT_NAME})
        kept.write_text(f"{d['crn']} {d['accessKey']}\n")
        kept.chmod(0o600)
        self.say(f"demo: deployed {d['crn']}")
        return {"crn": d["crn"], "accessKey": d["accessKey"], "build_crn": d["buildCrn"]}

    def table_process(self, build: str, inserted_ms: int | None) -> None:
        """The seed's ``INSERT INTO wineds_ext_nolabel SELECT ... FROM wineds_ext`` as Atlas's Hive hook records it:
        a hive_process from one table to the other, written once the build has recorded both tables; at the time
        the INSERT wrote when it ran in a HiveServer2, else a minute after the seed's tables were created."""
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
        at = inserted_ms if inserted_ms is not None else _CREATED_MS + 60_000
        user = self.warehouse.hive.username if self.warehouse is not None else "cdsw"
        qn = f"{NOLABEL_TABLE}:{at}"
        entity = {"typeName": "hive_process", "attributes": {
            "qualifiedName": qn, "name": qn, "operationType": "QUERY", "userName": user,
            "startTime": at, "endTime": at, "clusterName": "cm", "queryText": INSERT_QUERY,
            "queryPlan": "Not Supported", "queryId": "",
            "inputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": SOURCE_TABLE}}],
            "outputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": NOLABEL_TABLE}}]}}
        r = self.http.post("/api/atlas/v2/entity", json={"entity": entity}, auth=self.atlas_auth)
        if r.status_code >= 400:
            raise RuntimeError(f"Atlas refused the table process: HTTP {r.status_code}: {r.text[:300]}")

    def monitor(self, crn: str, training: Path) -> int:
        """The deployment's monitor (reused when present); returns how often it computes a window (ms)."""
        r = self.http.get(f"/api/v1/serving/monitors/{crn}")
        if r.status_code == 200:
            return int(r.json()["config"]["every_ms"])
        self._call("POST", "/api/v1/serving/monitors", {
            "deployment_crn": crn, "every_ms": MONITOR_EVERY_MS,
            "reference": {"file": str(training), "column_map": {"prediction": "quality"}}})
        self.say(f"demo: monitoring drift and accuracy every {MONITOR_EVERY_MS // 1000} s against the training data")
        return MONITOR_EVERY_MS

    # -- traffic --------------------------------------------------------------------------------------------
    def play_once(self, d: dict[str, Any], model: Any) -> list[dict[str, Any]]:
        """All the traffic at once, then the monitor over each phase's window (bounded and deterministic, CI)."""
        phases = [("the seed's warm-up traffic: good and bad wines in turn", balanced(model, 300, 21)),
                  ('a stream drifting toward "Excellent"', toward_excellent(300, 22)),
                  ("good and bad wines again", balanced(model, 300, 23))]
        windows = []
        for what, rows in phases:
            self.say(f"demo: sending {len(rows)} predictions: {what}")
            windows.append(self.traffic(d["accessKey"], rows))
        results: list[dict[str, Any]] = [
            self._call("POST", f"/api/v1/serving/monitors/{d['crn']}/run", {"start_ms": s, "end_ms": e})[0]
            for s, e in windows]
        for r in results:
            acc = (r.get("classification") or {}).get("accuracy")
            self.say("demo: window " + _window_text(r["predictions"], r["status"], r["drifted_columns"], acc))
        return results

    def play_live(self, d: dict[str, Any], model: Any, every_ms: int) -> None:
        """The phases on the monitor's grid: from now to the end of the first window wholly after now, good and
        bad wines; two windows drifting; one window good and bad again; then a steady balanced stream until
        stopped. Each window thus holds one phase only, and the last of the story is computed at most 5 windows
        and the monitor's lag (2 s) after the traffic starts: 152 s at 30 s windows."""
        now_ms = int(time.time() * 1000)
        first_end = -(-(now_ms + every_ms) // every_ms) * every_ms
        phases = [("the seed's warm-up traffic: good and bad wines in turn", balanced(model, 300, 21), first_end),
                  ('a stream drifting toward "Excellent"', toward_excellent(300, 22), first_end + 2 * every_ms),
                  ("good and bad wines again", balanced(model, 300, 23), first_end + 3 * every_ms)]
        self._reported = set()
        truth = TruthSender(self.base, self.api_key, self.should_stop)
        truth.start()
        try:
            for what, rows, until_ms in phases:
                self.say(f"demo: {what}, {PHASE_RATE:g} a second until {_clock(until_ms)}")
                if not self.stream(d, cycle(rows), PHASE_RATE, until_ms / 1000, truth, since_ms=now_ms):
                    return
            self.say(f"demo: the story is told; good and bad wines go on, {STEADY_RATE:g} a second, until Ctrl-C")
            self.stream(d, cycle(balanced(model, 300, 24)), STEADY_RATE, None, truth, since_ms=now_ms)
        finally:
            truth.finish()

    def stream(self, d: dict[str, Any], rows: Iterable[Row], rate: float, until_s: float | None,
               truth: TruthSender, *, since_ms: int) -> bool:
        """Predictions at ``rate`` a second until ``until_s`` (epoch s; None: until stopped), the true label of
        every other one handed to ``truth``; windows computed meanwhile are printed. False once told to stop."""
        at = time.time()
        for i, (x, label) in enumerate(rows):
            if until_s is not None and at >= until_s:
                return True
            if not self._sleep_until(at):
                return False
            uuid = self.predict(d["accessKey"], x)
            if i % 2 == 0:
                truth.send(uuid, label, at + TRUTH_DELAY_S)
            if truth.error is not None:
                raise RuntimeError(f"reporting ground truth failed: {truth.error}")
            self._report_windows(d["crn"], since_ms)
            at += 1 / rate
        return True

    def _sleep_until(self, t: float) -> bool:
        while (left := t - time.time()) > 0:
            if self.should_stop():
                return False
            time.sleep(min(left, 0.2))
        return not self.should_stop()

    def _report_windows(self, crn: str, since_ms: int) -> None:
        if time.monotonic() < self._next_report:
            return
        self._next_report = time.monotonic() + _REPORT_EVERY_S
        for w in sorted(self._call("GET", f"/api/v1/serving/monitors/{crn}/windows", start_ms=since_ms),
                        key=lambda w: (w["end_ms"], w["start_ms"])):
            r, span = w.get("result"), (w["start_ms"], w["end_ms"])
            if r is None or span in self._reported:
                continue
            self._reported.add(span)
            self.say(f"demo: window {_clock(span[0])}-{_clock(span[1])} "
                     + _window_text(r["predictions"], r["status"], r["drifted_columns"], r.get("accuracy")))

    def predict(self, access_key: str, x: list[float]) -> str:
        """One request in the seed's format; returns the prediction's UUID."""
        from serving.examples.wine.data import feature_string

        r = self.http.post("/model", json={"accessKey": access_key, "request": {"feature": feature_string(x)}})
        if r.status_code != 200:
            raise RuntimeError(f"the model answered HTTP {r.status_code}: {r.text[:300]}")
        return str(r.json()["response"]["uuid"])

    def traffic(self, access_key: str, rows: list[Row]) -> tuple[int, int]:
        """Predictions for ``rows`` at once; the true label of every other one is reported after all of them
        (delayed ground truth). Returns the [start, end) window in ms that holds exactly these predictions."""
        time.sleep(0.01)
        start = int(time.time() * 1000)
        truth = []
        for i, (x, label) in enumerate(rows):
            uuid = self.predict(access_key, x)
            if i % 2 == 0:
                truth.append((uuid, label))
        time.sleep(0.05)
        end = int(time.time() * 1000)
        for uuid, label in truth:
            self._call("POST", "/api/v1/metrics/delayed", {"prediction_uuid": uuid,
                                                           "metrics": {"actual_result": label}})
        return start, end

    def where(self, crn: str) -> None:
        q = urllib.parse.quote(crn, safe=":/")
        for line in (f"demo: home        {self.base}/",
                     f"demo: lineage     {self.base}/lineage?crn={q}",
                     f"demo: dashboard   {self.base}/dashboard?crn={q}",
                     f"demo: catalog API {self.base}/api/v1/deployments/{crn}   (API docs: {self.base}/docs)",
                     f"demo: Prometheus  {self.base}/metrics"):
            self.say(line)
        if self.key_note:
            self.say(f"demo: the pages ask for a key: {self.key_note}")


class TruthSender(threading.Thread):
    """Delayed ground truth, live: each label is reported to the metrics API when it is due, a few seconds after
    its prediction, on a connection of its own (the request loop keeps its pace)."""

    def __init__(self, base_url: str, api_key: str, should_stop: Callable[[], bool]) -> None:
        super().__init__(name="demo-truth", daemon=True)
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
        self.should_stop = should_stop
        self.queue: queue.Queue[tuple[float, str, str] | None] = queue.Queue()
        self.error: str | None = None

    def send(self, uuid: str, label: str, due_s: float) -> None:
        self.queue.put((due_s, uuid, label))

    def finish(self) -> None:
        self.queue.put(None)
        self.join(timeout=TRUTH_DELAY_S + 5)

    def run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                due, uuid, label = item
                while (left := due - time.time()) > 0:
                    if self.should_stop():
                        return
                    time.sleep(min(left, 0.2))
                r = self.http.post("/api/v1/metrics/delayed", json={"prediction_uuid": uuid,
                                                                    "metrics": {"actual_result": label}})
                if r.status_code >= 400:
                    self.error = f"HTTP {r.status_code}: {r.text[:300]}"
                    return
        except httpx.HTTPError as e:
            if not self.should_stop():
                self.error = str(e) or type(e).__name__
        finally:
            self.http.close()


def _window_text(predictions: int, status: str, drifted: list[str], accuracy: float | None) -> str:
    return (f"of {predictions} predictions: drift {status} (columns: {', '.join(drifted) or '-'}); "
            f"accuracy {'-' if accuracy is None else f'{accuracy:.2f}'}")


def _clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _load_model(project: Path) -> Any:
    import joblib

    return joblib.load(project / "wine_model.joblib")


def balanced(model: Any, n: int, seed: int) -> list[Row]:
    """Good and bad wines in turn, as the model judges them; the label is the wine's true quality."""
    from serving.examples.wine.data import generate

    rows = generate(4 * n, seed)
    judged = model.predict([x for x, _ in rows])
    good = [r for r, p in zip(rows, judged, strict=True) if p == "Excellent"]
    bad = [r for r, p in zip(rows, judged, strict=True) if p == "Poor"]
    return [pair[i % 2] for i, pair in enumerate(zip(good, bad, strict=False))][:n]


def toward_excellent(n: int, seed: int) -> list[Row]:
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
