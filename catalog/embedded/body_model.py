"""A request body read into a pydantic model as Jackson reads it into Atlas's request class: a 400 in Atlas's shape
naming the first field it refuses, and the value it was given."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from catalog.embedded.errors import AtlasError, ErrorCode
from catalog.embedded.limits import shown

M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], body: Any, what: str) -> M:
    """``body`` read as ``model`` (``what``: the Atlas class's name, for the message); JSON nulls are absent fields."""
    if not isinstance(body, dict):
        raise AtlasError(ErrorCode.BAD_REQUEST, f"body must be a{'n' if what[:1] in 'AEIOU' else ''} {what} object")
    try:
        return model.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AtlasError(ErrorCode.BAD_REQUEST, f"{what}.{where}: {first['msg']}, not "
                                                f"{shown(first.get('input'), 60)}") from e
