"""The seed's own demo repository (github.com/fastforwardlabs/mlops-wine-quality-demo), as it was committed, on a
real platform with nothing installed by hand: its ``cdsw-build.sh`` (``pip3 install sklearn``) is refused with a
message naming ``scikit-learn``; once that line says so, its ``model.py`` (a Spark 2.3 ``PipelineModel`` loaded
from ``/home/cdsw/models/spark``, 26 warm-up calls with sleeps at import) deploys in its build's environment and
answers "Poor" and "Excellent"; its ``measure_drift.py`` runs against our SDK in an environment with the pandas of
its time (``pd.io.json.json_normalize``), changed only in the deployment CRN it hard-codes.

Needs the repository (``MLCATALOG_SEED_REPO``: a clone or a bare git directory; default: the snapshot ``fetch``
leaves beside the checkout), Java for Spark, and ``/home/cdsw`` free to link to the project (as the README tells a
user on one machine to); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.platform.buildenv import ensure_env
from tests.serving.conftest import ADMIN_KEY, REPO, Platform, auth, git

pytestmark = pytest.mark.slow
SEED = Path(os.environ.get("MLCATALOG_SEED_REPO")
            or REPO.parent / ".mirror" / "fastforwardlabs+mlops-wine-quality-demo" / "repo" / ".git")
CML_HOME = Path("/home/cdsw")
MODEL = "Predict w/ Monitoring & Lineage"  # the seed's lineage.yml names its model so
BAD = "7.4;0.7;0;1.9;0.076;11;34;0.9978;3.51;0.56;9.4"  # the seed's own warm-up examples, "#bad" and "#good"
GOOD = "7.3;0.65;0.0;1.2;0.065;15.0;21.0;0.9946;3.39;0.47;10.0"
SEED_CRN = ("crn:cdp:ml:us-west-1:12a0079b-1591-4ca0-b721-a446bda74e67:workspace:"
            "ec3efe6f-c4f5-4593-857b-a80698e4857e/d5c3fbbe-d604-4f3b-b98a-227ecbd741b4")
ADMIN = {"MLCATALOG_API_KEY": ADMIN_KEY}


def _why_not() -> str | None:
    if not SEED.exists():
        return f"the seed's repository is not at {SEED} (set MLCATALOG_SEED_REPO)"
    if shutil.which("java") is None:
        return "no Java for the seed's Spark model"
    if CML_HOME.exists() or CML_HOME.is_symlink():
        return f"{CML_HOME} exists: not ours to replace"
    if not os.access(CML_HOME.parent, os.W_OK):
        return f"cannot link {CML_HOME} (not writable: {CML_HOME.parent})"
    return None


@pytest.fixture(scope="module")
def seed_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    why = _why_not()
    if why:
        pytest.skip(why)
    project = tmp_path_factory.mktemp("seed") / "mlops-wine-quality-demo"
    subprocess.run(["git", "clone", "-q", str(SEED), str(project)], check=True, capture_output=True)
    CML_HOME.symlink_to(project)  # the README's way on one machine: /home/cdsw is the project
    try:
        yield project
    finally:
        CML_HOME.unlink()


def _deploy(p: Platform, project: Path) -> subprocess.CompletedProcess[str]:
    return p.cli("deploy", "--project-dir", str(project), "--model", MODEL, "--file", "model.py", "--function",
                 "predict", "--memory-mb", "4096", check=False, env=ADMIN)


def test_the_seed_repository_deploys_and_its_drift_job_runs(seed_project: Path, platform: Platform,
                                                            tmp_path: Path) -> None:
    refused = _deploy(platform, seed_project)
    assert refused.returncode == 1 and "require 'scikit-learn' instead" in refused.stderr, refused.stderr
    (seed_project / "cdsw-build.sh").write_text(
        (seed_project / "cdsw-build.sh").read_text().replace("pip3 install sklearn", "pip3 install scikit-learn"))
    git(seed_project, "-c", "user.name=ds", "-c", "user.email=ds@example.com", "commit", "-qam",
        "cdsw-build.sh: the sklearn package is now scikit-learn")

    started = time.monotonic()
    out = _deploy(platform, seed_project)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    crn = next(line.split()[-1] for line in out.stdout.splitlines() if "deployment CRN:" in line)
    key = next(line.split()[-1] for line in out.stdout.splitlines() if "access key:" in line)

    def predict(feature: str) -> str:
        r = httpx.post(f"{platform.url}/model", json={"accessKey": key, "request": {"feature": feature}},
                       headers=auth(ADMIN_KEY), timeout=60)
        assert r.status_code == 200, r.text
        return str(r.json()["response"]["prediction"]["result"])

    assert (predict(BAD), predict(GOOD)) == ("Poor", "Excellent")
    print(f"\nthe seed's model deployed in {took:.1f}s (Spark, 26 warm-up calls with sleeps at import)")

    # its drift job, unchanged but for the CRN of its own deployment, on the pandas of its time
    job = tmp_path / "drift-job"
    job.mkdir()
    (job / "requirements.txt").write_text("pandas<2\nnumpy<2\nmatplotlib\n")
    env = ensure_env(job, platform.store / "build-envs")
    script = (seed_project / "measure_drift.py").read_text()
    assert SEED_CRN in script
    (job / "measure_drift.py").write_text(script.replace(SEED_CRN, crn))
    ran = subprocess.run([str(env.python), "measure_drift.py"], cwd=job, capture_output=True, text=True,
                         timeout=300, env={**platform.env, **ADMIN, "MPLBACKEND": "Agg"})
    assert ran.returncode == 0, ran.stderr
    x2, p_value = (float(v) for v in ran.stdout.split()[-2:])
    assert x2 >= 0 and 0 <= p_value <= 1
    r = httpx.get(f"{platform.url}/api/v1/metrics", params={"model_deployment_crn": crn},
                  headers=auth(ADMIN_KEY), timeout=30)
    assert r.status_code == 200, r.text
    aggregates = [m["metrics"] for m in r.json()["metrics"] if "chisq_x2" in m["metrics"]]
    assert aggregates == [{"chisq_x2": x2, "chisq_p": p_value}]
    predictions = [m for m in r.json()["metrics"] if "prediction" in m["metrics"]]  # its 26 warm-up calls, ours
    assert len(predictions) == 26 + 2 and {m["metrics"]["prediction"] for m in predictions} == {"Poor", "Excellent"}
