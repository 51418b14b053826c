"""``mlcatalog monitor``: drift and accuracy monitors of deployments, run on a schedule inside ``mlcatalog up``.

Like the other serving commands, these go through the platform's HTTP API (``--url`` / ``MLCATALOG_URL``).
Durations are ``30m``, ``2h``, ``1d``; windows ``START..END`` in ISO 8601 or epoch milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import Field, TypeAdapter, ValidationError

from mlcatalog.cli_serving import Json, Shape, Url, _fail, _plain, _request, _segment, _ts
from serving.monitoring.config import (
    Thresholds,
    parse_duration,
    parse_expected,
    parse_pairs,
    parse_window,
)

_THRESHOLD_NAMES = ("chisquare", "ks", "psi", "wasserstein", "drift_share")


class _Reference(Shape):
    description: str
    numeric: dict[str, str]
    categorical: dict[str, str]
    rows: dict[str, Any]


class _Monitor(Shape):
    deployment_crn: str
    status: str
    stopped_reason: str | None = None
    every: str
    window: str
    reference: _Reference
    drift_status: str | None = None
    drift_columns: list[str] | None = None
    last_window_end_ms: int | None = None
    next_window_end_ms: int | None = None


class _Removed(Shape):
    deployment_crn: str


class _Test(Shape):
    column: str
    test: str
    statistic: float | None
    p_value: float | None = None
    drifted: bool | None
    reason: str | None = None


class _Classification(Shape):
    n: int
    accuracy: float | None = None


class _Regression(Shape):
    n: int
    mae: float | None = None
    rmse: float | None = None


class _Window(Shape):
    start_ms: int | None
    end_ms: int | None
    status: str
    predictions: int
    drifted_columns: list[str] | None = None
    drifted_share: float | None = None
    deciding_test: dict[str, str] | None = None
    tests: list[_Test] = Field(default_factory=list)
    classification: _Classification | None = None
    regression: _Regression | None = None


MONITOR: TypeAdapter[Any] = TypeAdapter(_Monitor)
MONITORS: TypeAdapter[Any] = TypeAdapter(list[_Monitor])
REMOVED: TypeAdapter[Any] = TypeAdapter(_Removed)
WINDOWS: TypeAdapter[Any] = TypeAdapter(list[_Window])


def _parse(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ValueError as e:
        raise _fail(str(e), 2) from None


def _thresholds(items: list[str]) -> dict[str, float]:
    raw = _parse(parse_pairs, items, "--threshold")
    out = {}
    for k, v in raw.items():
        name = {"chisq": "chisquare", "share": "drift_share"}.get(k, k)
        if name not in _THRESHOLD_NAMES:
            raise _fail(f"bad --threshold {k}: use one of {', '.join(_THRESHOLD_NAMES)}", 2)
        try:
            out[name] = float(v)
        except ValueError:
            raise _fail(f"bad --threshold {k}={v}: not a number", 2) from None
    try:
        Thresholds(**out)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        name = ".".join(str(part) for part in first["loc"])
        raise _fail(f"bad --threshold {_plain(name, 40)}={_plain(first.get('input'), 40)}: {first['msg']}", 2) \
            from None
    return out


def _status_line(m: dict[str, Any]) -> str:
    status = m.get("drift_status") or "-"
    cols = m.get("drift_columns") or []
    drift = f"{status} ({', '.join(cols)})" if cols else status
    state = m["status"] if m["status"] == "active" else f"{m['status']}: {m.get('stopped_reason') or ''}"
    return (f"{m['deployment_crn']}\n  {state}; every {m['every']}, window {m['window']}; drift {drift}; "
            f"last window end {_ts(m.get('last_window_end_ms'))}, next {_ts(m.get('next_window_end_ms'))}\n"
            f"  reference: {m['reference']['description']}; columns: "
            f"{', '.join(sorted([*m['reference']['numeric'], *m['reference']['categorical']]))}")


def register(app: typer.Typer) -> None:  # noqa: C901 - one function lists the commands
    mon = typer.Typer(help="Drift and accuracy monitors of deployments (run on a schedule by mlcatalog up).",
                      no_args_is_help=True)
    app.add_typer(mon, name="monitor")

    @mon.command("add")
    def add(crn: Annotated[str, typer.Argument(metavar="CRN", help="deployment CRN (or its bare /id)")],
            every: Annotated[str, typer.Option("--every", metavar="DURATION", help="how often, e.g. 30m")],
            window: Annotated[str | None, typer.Option("--window", metavar="DURATION",
                                                       help="window length (default: --every)")] = None,
            reference_table: Annotated[str | None, typer.Option(
                "--reference-table", metavar="QUALIFIED_NAME",
                help="a table of the build's lineage, e.g. default.wineds_ext@cm (default: the first table of "
                     "the lineage that has the tracked columns), sampled over HiveServer2")] = None,
            reference_file: Annotated[Path | None, typer.Option("--reference-file", metavar="PATH",
                                                                help="CSV (with header) or Parquet")] = None,
            reference_window: Annotated[str | None, typer.Option(
                "--reference-window", metavar="START..END", help="an earlier window of its own predictions")] = None,
            expected: Annotated[list[str] | None, typer.Option(
                "--expected", metavar="CAT=SHARE,...", help="the prediction's expected shares, e.g. "
                                                            "Excellent=0.5,Poor=0.5")] = None,
            mapping: Annotated[list[str] | None, typer.Option(
                "--map", metavar="METRIC=COLUMN", help="match a tracked metric to a reference column")] = None,
            sample_rows: Annotated[int, typer.Option("--sample-rows", min=30, help="reference rows kept")] = 10_000,
            numeric_test: Annotated[str, typer.Option(
                "--numeric-test", help="the test that decides a numeric column: wasserstein, ks, psi, or auto "
                                       "(KS for 1,000 values or fewer, else Wasserstein)")] = "auto",
            threshold: Annotated[list[str] | None, typer.Option(
                "--threshold", metavar="TEST=VALUE",
                help="chisquare=0.05 ks=0.05 (p-values), psi=0.1, wasserstein=0.1, drift_share=0.5")] = None,
            min_n: Annotated[int, typer.Option("--min-n", min=1, help="fewer values: no statistic")] = 30,
            prediction_key: Annotated[str, typer.Option("--prediction-key")] = "prediction",
            actual_key: Annotated[str, typer.Option("--actual-key", help="delayed ground truth metric")]
            = "actual_result",
            min_accuracy: Annotated[float | None, typer.Option("--min-accuracy", min=0, max=1)] = None,
            webhook: Annotated[str | None, typer.Option("--webhook", metavar="URL",
                                                        help="POST a signed JSON event when the status changes")]
            = None,
            url: Url = None, as_json: Json = False) -> None:
        """Monitor a deployment's drift (and accuracy, once ground truth arrives) every DURATION."""
        every_ms = _parse(parse_duration, every, "--every")
        window_ms = _parse(parse_duration, window, "--window") if window else None
        if numeric_test not in ("auto", "wasserstein", "ks", "psi"):
            raise _fail(f"bad --numeric-test {numeric_test!r}: use auto, wasserstein, ks or psi", 2)
        ref: dict[str, Any] = {"table": reference_table, "column_map": _parse(parse_pairs, mapping or [], "--map"),
                               "sample_rows": sample_rows}
        if reference_file is not None:
            ref["file"] = str(reference_file.expanduser().resolve())
        if reference_window:
            ref["window"] = list(_parse(parse_window, reference_window))
        if expected:
            ref["expected"] = _parse(parse_expected, expected)
        body = {"deployment_crn": crn, "every_ms": every_ms, "window_ms": window_ms, "reference": ref,
                "numeric_test": numeric_test, "thresholds": _thresholds(threshold or []), "min_n": min_n,
                "prediction_key": prediction_key, "actual_key": actual_key, "min_accuracy": min_accuracy,
                "webhook_url": webhook}
        m = _request("POST", url, "/api/v1/serving/monitors", body, shape=MONITOR)
        if as_json:
            typer.echo(json.dumps(m, indent=2))
            return
        typer.echo(f"monitoring {m['deployment_crn']} every {m['every']} (window {m['window']})")
        typer.echo(f"  reference: {m['reference']['description']}")
        for kind in ("numeric", "categorical"):
            for metric, column in sorted(m["reference"][kind].items()):
                typer.echo(f"    {metric:<20} <- {column} ({kind}, {m['reference']['rows'].get(metric)} values)")

    @mon.command("list")
    def list_monitors(url: Url = None, as_json: Json = False) -> None:
        """Monitors with their latest drift status."""
        rows = _request("GET", url, "/api/v1/serving/monitors", shape=MONITORS)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            typer.echo("no monitors")
        for m in rows:
            typer.echo(_status_line(m))

    @mon.command("remove")
    def remove(crn: Annotated[str, typer.Argument(metavar="CRN")], url: Url = None) -> None:
        """Stop and remove a deployment's monitor (its results stay in the metrics store)."""
        m = _request("DELETE", url, f"/api/v1/serving/monitors/{_segment(crn, '/:')}", shape=REMOVED)
        typer.echo(f"removed the monitor of {m['deployment_crn']}")

    @mon.command("compare")
    def compare(model: Annotated[str, typer.Argument(metavar="MODEL", help="the model's CRN or name")],
                last: Annotated[int, typer.Option("--last", min=1, max=1000, help="windows to show")] = 5,
                url: Url = None, as_json: Json = False) -> None:
        """A model's builds side by side (the live one, its canary, its shadow) over the same monitor windows:
        drift status, drifted columns, predictions and accuracy of each (a build's monitor follows it from the
        build it joined)."""
        from mlcatalog.cli_models import MODEL

        m = _request("GET", url, f"/api/v1/serving/models/{_segment(model)}", shape=MODEL)
        monitored = {x["deployment_crn"] for x in _request("GET", url, "/api/v1/serving/monitors", shape=MONITORS)}
        windows = {s["deployment_crn"]: _request(
            "GET", url, f"/api/v1/serving/monitors/{_segment(s['deployment_crn'], '/:')}/windows",
            params={"limit": 1000}, shape=LEDGER) for s in m["shares"] if s["deployment_crn"] in monitored}
        rows = compare_builds(m, windows, last)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            raise _fail(f"no monitor window that {m['model_name']}'s builds have in common yet "
                        "(mlcatalog monitor list; windows end on the monitor's schedule)")
        for row in rows:
            typer.echo(f"window {_ts(row['start_ms'])} .. {_ts(row['end_ms'])}")
            for b in row["builds"]:
                cols = ", ".join(b["drifted_columns"] or [])
                accuracy = "-" if b["accuracy"] is None else f"{b['accuracy']:.3f}"
                typer.echo(f"  {b['role']:<7} {b['percent']:>3}%  {b['status'] or '-':<9} {b['predictions'] or 0:>7} "
                           f"predictions  accuracy {accuracy}  {('drifted: ' + cols) if cols else ''}  "
                           f"build {b['build_crn']}")

    @mon.command("run")
    def run(crn: Annotated[str, typer.Argument(metavar="CRN")],
            window: Annotated[str | None, typer.Option("--window", metavar="START..END",
                                                       help="this window (default: the due ones, else the "
                                                            "window ending now)")] = None,
            url: Url = None, as_json: Json = False) -> None:
        """Compute windows now and print their results."""
        body = None
        if window:
            start, end = _parse(parse_window, window)
            body = {"start_ms": start, "end_ms": end}
        results = _request("POST", url, f"/api/v1/serving/monitors/{_segment(crn, '/:')}/run", body, timeout=3600.0,
                           shape=WINDOWS)
        if as_json:
            typer.echo(json.dumps(results, indent=2))
            return
        for r in results:
            _print_result(r)


class _LedgerWindow(Shape):
    start_ms: int
    end_ms: int
    status: str
    result: dict[str, Any] | None = None


LEDGER: TypeAdapter[Any] = TypeAdapter(list[_LedgerWindow])


def compare_builds(model: dict[str, Any], windows: dict[str, list[dict[str, Any]]], last: int
                   ) -> list[dict[str, Any]]:
    """The latest ``last`` windows that every monitored build of ``model`` has done, oldest first: per window,
    each build's status, drifted columns, predictions and accuracy (scheduled windows share their bounds: they
    end on the same grid)."""
    shares = [s for s in model["shares"] if windows.get(s["deployment_crn"])]
    done = [{(w["start_ms"], w["end_ms"]): w["result"] or {} for w in windows[s["deployment_crn"]]
             if w["status"] == "done"} for s in shares]
    common = sorted(set.intersection(*(set(d) for d in done))) if done else []
    return [{"start_ms": start, "end_ms": end, "builds": [
        {"build_crn": s["build_crn"], "role": s["role"], "percent": s["percent"],
         **{k: d[(start, end)].get(k) for k in ("status", "drifted_columns", "predictions", "accuracy")}}
        for s, d in zip(shares, done, strict=True)]} for start, end in common[-last:]]


def _print_result(r: dict[str, Any]) -> None:
    cols = r.get("drifted_columns") or []
    share = r.get("drifted_share")
    typer.echo(f"window {_ts(r['start_ms'])} .. {_ts(r['end_ms'])}: {r['status']}"
               f"{' (' + ', '.join(cols) + ')' if cols else ''}; {r['predictions']} predictions; drifted share "
               f"{'-' if share is None else f'{share:.2f}'}")
    deciding = r.get("deciding_test") or {}
    for t in r.get("tests", []):
        if deciding.get(t["column"]) != t["test"]:
            continue
        if t["statistic"] is None:
            typer.echo(f"  {t['column']:<20} {t['test']:<11} {t.get('reason')}")
            continue
        p = f" p={t['p_value']:.4g}" if t.get("p_value") is not None else ""
        flag = "DRIFTED" if t["drifted"] else "ok"
        typer.echo(f"  {t['column']:<20} {t['test']:<11} {t['statistic']:.4g}{p}  {flag}")
    c = r.get("classification")
    if c and c.get("accuracy") is not None:
        typer.echo(f"  accuracy {c['accuracy']:.3f} on {c['n']} labelled predictions")
    g = r.get("regression")
    if g and g.get("mae") is not None and g.get("rmse") is not None:
        typer.echo(f"  MAE {g['mae']:.4g}, RMSE {g['rmse']:.4g} on {g['n']} labelled predictions")
