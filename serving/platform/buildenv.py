"""A build's own Python environment, as CML's build makes an image per build: the project's ``requirements.txt``
installed and its ``cdsw-build.sh`` run, in a virtual environment over a runtime interpreter whose packages stay
visible underneath (as CML's engine images provide pyspark and friends), so a model that pins another version of a
library gets its own without touching the platform's or another model's.

* Made with ``uv`` (a PyPI package: ``uv venv --seed``, ``uv pip install``) and its download cache.
* Cached by a hash of the runtime, the requirements and the build script: an unchanged project reuses its
  environment at once; a changed one gets another. ``prune`` removes those no deployment used for a while.
* Reproducible and inspectable: the environment keeps its build log, what it installed itself (``uv pip
  freeze``) and the package set its interpreter imports from (its own over the runtime's), which the catalog
  records with the build.
* A failing install leaves nothing behind and says why with the log's tail (the seed's ``pip3 install sklearn``
  names a PyPI package that now refuses to install: the message says to use ``scikit-learn``).

Underneath: a ``.pth`` file adds the runtime's own ``sys.path`` (its site-packages, mlcatalog itself) after the
environment's site-packages, so the environment's pins win and the replica still imports the platform's SDK.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from catalog import InvalidInput

REQUIREMENTS = "requirements.txt"
BUILD_SCRIPT = "cdsw-build.sh"
BUILD_TIMEOUT_S = 1800.0
_READY = ".mlcatalog-env.json"
_LOG = "build.log"
_SCRIPT_RAN = ".mlcatalog-build-script"  # in a snapshot: its cdsw-build.sh has run there
# What a build's commands (uv, cdsw-build.sh, a package's own build code) get of the platform's environment: how to
# run programs and reach a package index, never its credentials (model code is not trusted with them).
_BUILD_ENV = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
                        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
                        "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                        "JAVA_HOME"})
_BUILD_ENV_PREFIXES = ("LC_", "PIP_", "UV_")
# PyPI names that refuse to install on purpose, and what to install instead
_RENAMED = {"sklearn": "scikit-learn"}


class BuildFailed(InvalidInput):
    """The project's requirements or build script failed: nothing is deployed."""


@dataclass(frozen=True)
class BuildEnv:
    key: str
    path: Path
    python: Path
    packages: dict[str, str]  # name -> version, as its interpreter imports them (its own over the runtime's)
    installed: dict[str, str]  # name -> version, what the build installed into the environment itself
    log: Path
    reused: bool
    seconds: float  # how long making it took


# The distributions the interpreter imports from: the first of each name along sys.path, as the import system finds
# them (the environment's own site-packages come before the runtime's).
_EFFECTIVE = '''
import importlib.metadata as m, json, re
seen = {}
for d in m.distributions():
    name = re.sub(r"[-_.]+", "-", (d.metadata["Name"] or "")).lower()
    if name and name not in seen:
        seen[name] = d.version
print(json.dumps(seen))
'''


def uv_binary() -> str:
    """The ``uv`` executable of the ``uv`` package (a dependency), or one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise BuildFailed("building environments needs uv: pip install uv") from None
        return found


@functools.cache
def _runtime_packages() -> str:
    """The runtime's distributions (``name==version``): an upgrade underneath makes new environments, whose
    recorded package set is then true again."""
    return "\n".join(sorted({f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()}))


def env_key(runtime: Path, project: Path) -> str:
    """What decides the environment: the runtime interpreter (its version, import path and packages), the
    requirements, the script."""
    h = hashlib.sha256()
    h.update(str(runtime).encode() + b"\0" + sys.version.encode() + b"\0" + _runtime_pth().encode() + b"\0")
    h.update(_runtime_packages().encode() + b"\0")
    for name in (REQUIREMENTS, BUILD_SCRIPT):
        f = project / name
        h.update(name.encode() + b"\0" + (f.read_bytes() if f.is_file() else b"<none>") + b"\0")
    return h.hexdigest()[:24]


def runtime_paths() -> list[str]:
    """The runtime's import path (its site-packages and what their ``.pth`` files add, an editable mlcatalog),
    seen under a build's own packages."""
    stdlib = {str(Path(sysconfig.get_paths()[k]).resolve()) for k in ("stdlib", "platstdlib")}
    return [p for p in dict.fromkeys(sys.path) if p and Path(p).is_dir() and str(Path(p).resolve()) not in stdlib
            and not p.endswith("lib-dynload")]


def _runtime_pth() -> str:
    # an "import" line of a .pth file runs at start-up: addsitedir also reads the .pth files of those directories
    # (an editable install's finder), after the environment's own site-packages
    # (map, not a comprehension: before Python 3.12 a comprehension in exec'd code cannot see the imported name)
    return f"import site; list(map(site.addsitedir, {runtime_paths()!r}))\n"


def _tail(log: Path, lines: int = 12) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _hint(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    for old, new in _RENAMED.items():
        if old in text and ("deprecated" in text.lower() or new in text):
            return f" The PyPI package {old!r} is deprecated and refuses to install: require {new!r} instead."
    return ""


def build_env_vars() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _BUILD_ENV or k.startswith(_BUILD_ENV_PREFIXES)}


def _run(argv: Sequence[str], log: Path, *, cwd: Path, env: dict[str, str], what: str) -> None:
    with log.open("ab") as f:
        f.write(f"$ {' '.join(Path(a).name if os.path.isabs(a) else a for a in argv)}\n".encode())
        f.flush()
        # a session of its own: on a timeout the script's children (pip, a download) go with it
        with subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True) as proc:
            try:
                proc.wait(BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise BuildFailed(f"{what} took more than {BUILD_TIMEOUT_S:.0f}s") from None
    if proc.returncode != 0:
        raise BuildFailed(f"{what} failed (exit {proc.returncode}).{_hint(log)} Last lines of the build log:\n"
                          f"{_tail(log)}")


def ensure_env(project: Path, cache: Path, *, runtime: Path | None = None) -> BuildEnv:
    """The environment of the build whose code is in ``project`` (a snapshot), made unless cached."""
    runtime = runtime or Path(sys.executable)
    key = env_key(runtime, project)
    envs = cache / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    dest = envs / key
    with (envs / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one maker of an environment; the others wait and reuse it
        ready = dest / _READY
        if ready.exists():
            os.utime(ready)  # used now: prune keeps it
            env = _load(dest, key, reused=True)
        else:
            shutil.rmtree(dest, ignore_errors=True)  # a half-made one of a process that died
            try:
                _make(project, dest, runtime, cache)
            except BaseException:
                failed = envs / f"{key}.failed.log"  # kept for a look (the next try replaces it)
                with contextlib.suppress(OSError):
                    shutil.copyfile(dest / _LOG, failed)
                shutil.rmtree(dest, ignore_errors=True)
                raise
            env = _load(dest, key, reused=False)
    # The build script runs in every build's snapshot, as CML runs it for every build: what it writes into the
    # project (a downloaded model) is that build's; its installs went into the environment when it was made.
    if (project / BUILD_SCRIPT).is_file() and not (project / _SCRIPT_RAN).exists():
        _run(["bash", BUILD_SCRIPT], env.log, cwd=project, env=_env_vars(env.path), what=f"running {BUILD_SCRIPT}")
        (project / _SCRIPT_RAN).write_text(key)
    return env


def _env_vars(dest: Path) -> dict[str, str]:
    """What the build's commands run with: the environment activated."""
    env = build_env_vars()
    return {**env, "VIRTUAL_ENV": str(dest / "venv"), "PATH": f"{dest / 'venv' / 'bin'}:{env.get('PATH', '')}"}


def _make(project: Path, dest: Path, runtime: Path, cache: Path) -> None:
    uv = uv_binary()
    dest.mkdir(parents=True)
    log = dest / _LOG
    env = {**build_env_vars(), "UV_CACHE_DIR": str(cache / "uv-cache"), "UV_NO_PROGRESS": "1"}
    started = time.monotonic()
    _run([uv, "venv", "--seed", "--quiet", "--python", str(runtime), "--system-site-packages", str(dest / "venv")],
         log, cwd=project, env=env, what="creating the environment")
    python = dest / "venv" / "bin" / "python"
    site = _output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env, dest,
                   "reading the environment")
    (Path(site.strip()) / "zz_mlcatalog_runtime.pth").write_text(_runtime_pth())
    env = {**env, **_env_vars(dest)}
    if (project / REQUIREMENTS).is_file():
        _run([uv, "pip", "install", "--python", str(python), "-r", REQUIREMENTS], log, cwd=project, env=env,
             what=f"installing {REQUIREMENTS}")
    if (project / BUILD_SCRIPT).is_file():
        _run(["bash", BUILD_SCRIPT], log, cwd=project, env=env, what=f"running {BUILD_SCRIPT}")
        (project / _SCRIPT_RAN).write_text(dest.name)
    # the replica itself must still start: a pin that replaces one of the platform's own dependencies may not
    _run([str(python), "-c", "import serving.replica"], log, cwd=dest, env=env,
         what="checking the platform's replica still imports over the build's packages")
    frozen = _output([uv, "pip", "freeze", "--python", str(python)], env, dest, "listing the installed packages")
    installed = dict(line.split("==", 1) for line in frozen.splitlines() if "==" in line)
    packages = json.loads(_output([str(python), "-I", "-c", _EFFECTIVE], env, dest, "listing the packages"))
    (dest / _READY).write_text(json.dumps({"packages": packages, "installed": installed, "runtime": str(runtime),
                                           "seconds": round(time.monotonic() - started, 1)}, indent=1,
                                          sort_keys=True))


def _output(argv: list[str], env: dict[str, str], cwd: Path, what: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=True, timeout=300).stdout
    except (subprocess.SubprocessError, OSError) as e:
        detail = e.stderr.strip().splitlines()[-1:] if isinstance(e, subprocess.CalledProcessError) and e.stderr \
            else [type(e).__name__]
        raise BuildFailed(f"{what} failed: {' '.join(detail)}") from None


def _load(dest: Path, key: str, *, reused: bool) -> BuildEnv:
    facts = json.loads((dest / _READY).read_text())
    return BuildEnv(key=key, path=dest, python=dest / "venv" / "bin" / "python", packages=dict(facts["packages"]),
                    installed=dict(facts.get("installed", {})), log=dest / _LOG, reused=reused,
                    seconds=float(facts.get("seconds", 0.0)))


def find_env(cache: Path, key: str) -> BuildEnv | None:
    """The environment ``key`` if it is still there (prune removes unused ones)."""
    dest = cache / "envs" / key
    if not key or "/" in key or key.startswith(".") or not (dest / _READY).is_file():
        return None
    return _load(dest, key, reused=True)


def prune(cache: Path, keep: set[str], older_than_s: float = 7 * 86400) -> list[str]:
    """Remove environments not in ``keep`` (those deployments use) and unused for ``older_than_s``."""
    envs = cache / "envs"
    gone = []
    now = time.time()
    for d in sorted(envs.iterdir()) if envs.is_dir() else []:
        if not d.is_dir() or d.name in keep:
            continue
        # under the environment's lock (kept: a waiter may hold it), asked again: ensure_env may just have used it
        with (envs / f"{d.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            ready = d / _READY
            if not ready.exists() or now - ready.stat().st_mtime > older_than_s:
                shutil.rmtree(d, ignore_errors=True)
                gone.append(d.name)
    return gone
