"""What mlcatalog reads from the environment, derived from the code (never a hand list), for the docker/ checks."""

from __future__ import annotations

import types
import typing
from pathlib import Path

from pydantic import BaseModel, SecretStr

from mlcatalog.settings import CONFIG_ENV, ENV_VARS, Settings
from serving.replica import REPLICA_CONFIG_ENV

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
#: docker/entrypoint.sh (and the image's health check) read MLCATALOG_<NAME> from the file MLCATALOG_<NAME>_FILE names.
FILE_SUFFIX = "_FILE"


def read_variables() -> frozenset[str]:
    """Every MLCATALOG_* variable some part of mlcatalog reads: the settings, the config file's, a replica's."""
    return frozenset(ENV_VARS) | {CONFIG_ENV, REPLICA_CONFIG_ENV}


def _annotation(dotted: str) -> object:
    model: type[BaseModel] = Settings
    *sections, key = dotted.split(".")
    for section in sections:
        inner = model.model_fields[section].annotation
        assert isinstance(inner, type) and issubclass(inner, BaseModel)
        model = inner
    return model.model_fields[key].annotation


def _is_secret(annotation: object) -> bool:
    if annotation is SecretStr:
        return True
    return isinstance(annotation, types.UnionType) and SecretStr in typing.get_args(annotation)


def secret_variables() -> frozenset[str]:
    """The variables whose setting is a secret (a SecretStr): never given as a literal value in a manifest."""
    return frozenset(name for name, dotted in ENV_VARS.items() if _is_secret(_annotation(dotted)))


def setting_name(variable: str) -> str:
    """The variable mlcatalog reads for ``variable`` as the image is given it (``X_FILE`` is read as ``X``)."""
    return variable.removesuffix(FILE_SUFFIX)
