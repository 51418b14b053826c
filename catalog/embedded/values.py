"""Attribute value validation and normalisation, following Atlas's built-in types.

Entity references are not resolved here: the entity store passes a callback for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from catalog.embedded.limits import shown
from catalog.embedded.typesystem import TypeRef, TypeRegistry

INT_RANGES = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d")

RefResolver = Callable[[Any, str, str], Any]


class InvalidValue(ValueError):
    """A value that does not fit its attribute type; the message names the attribute path."""


def to_epoch_ms(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("boolean is not a date")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s)
        except ValueError:
            pass
        for fmt in DATE_FORMATS:
            try:
                dt = datetime.strptime(s, fmt)
            except ValueError:
                continue
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return int(dt.timestamp() * 1000)
    raise ValueError(f"invalid date {value!r}")


def _to_string(value: Any, type_name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError("not a string")


def _to_boolean(value: Any, type_name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("not a boolean")


def _to_integer(value: Any, type_name: str) -> int:
    """byte, short, int, long: an integral number (or its string) within the type's range."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not an integer")
        value = int(value)
    if isinstance(value, str):
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError("not a number")
    lo, hi = INT_RANGES[type_name]
    if not lo <= value <= hi:
        raise ValueError(f"out of range for {type_name}")
    return value


def _to_float(value: Any, type_name: str) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    f = float(value)
    if not math.isfinite(f):
        raise ValueError("not finite")
    return f


def _to_biginteger(value: Any, type_name: str) -> int:
    if isinstance(value, bool):
        raise ValueError("not a number")
    return _storable(int(str(value).strip()), type_name)


def _to_bigdecimal(value: Any, type_name: str) -> int | float:
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation as e:
        raise ValueError("not a decimal") from e
    if not d.is_finite():
        raise ValueError("not finite")
    if d == d.to_integral_value():
        return _storable(int(d), type_name)
    f = float(d)
    if not math.isfinite(f):
        raise ValueError(f"out of range for {type_name}")
    return f


def _storable(value: int, type_name: str) -> int:
    """Java's BigInteger has no bound, the stored JSON has: 64 bits (a value beyond is refused, never cut)."""
    if not INT_RANGES["long"][0] <= value <= INT_RANGES["long"][1]:
        raise ValueError(f"out of range for {type_name} (this store keeps 64-bit integers)")
    return value


def _to_date(value: Any, type_name: str) -> int:
    ms = to_epoch_ms(value)
    if not INT_RANGES["long"][0] <= ms <= INT_RANGES["long"][1]:
        raise ValueError("out of range for date (a Java long of milliseconds)")
    return ms


# Atlas's primitive type name -> (value, type name) -> the normalised value, or ValueError.
_PRIMITIVES: dict[str, Callable[[Any, str], Any]] = {
    "string": _to_string,
    "boolean": _to_boolean,
    **dict.fromkeys(INT_RANGES, _to_integer),
    "float": _to_float,
    "double": _to_float,
    "biginteger": _to_biginteger,
    "bigdecimal": _to_bigdecimal,
    "date": _to_date,
}


def _primitive(value: Any, type_name: str) -> Any:
    coerce = _PRIMITIVES.get(type_name)
    if coerce is None:
        raise ValueError(f"unknown primitive {type_name}")
    return coerce(value, type_name)


class ValueNormalizer:
    def __init__(self, registry: TypeRegistry, resolve_ref: RefResolver | None = None) -> None:
        self.registry = registry
        self.resolve_ref = resolve_ref

    def normalize(self, value: Any, ref: TypeRef, path: str) -> Any:
        if value is None:
            return None
        try:
            return self._normalize(value, ref, path)
        except InvalidValue:
            raise
        except (ValueError, TypeError, OverflowError) as e:
            raise InvalidValue(f"{path}: invalid value for type {ref.name}: {e}") from e

    def _normalize(self, value: Any, ref: TypeRef, path: str) -> Any:
        if ref.kind == "primitive":
            return _primitive(value, ref.name)
        if ref.kind == "array":
            assert ref.elem is not None
            if not isinstance(value, list):
                value = [value]
            return [self.normalize(v, ref.elem, f"{path}[{i}]") for i, v in enumerate(value)]
        if ref.kind == "map":
            assert ref.elem is not None
            if not isinstance(value, dict):
                raise InvalidValue(f"{path}: invalid value for type {ref.name}")
            return {str(k): self.normalize(v, ref.elem, f"{path}.{k}") for k, v in value.items()}
        raw = self.registry.raw_def(ref.name)
        if raw is None:
            raise InvalidValue(f"{path}: unknown type {ref.name}")
        cat = raw["category"]
        if cat == "ENUM":
            return self._enum(value, raw, path)
        if cat == "STRUCT":
            return self._struct(value, ref.name, path)
        if cat == "ENTITY":
            if self.resolve_ref is None:
                raise InvalidValue(f"{path}: entity references are not allowed here")
            return self.resolve_ref(value, ref.name, path)
        raise InvalidValue(f"{path}: unsupported attribute type {ref.name}")

    @staticmethod
    def _enum(value: Any, raw: dict[str, Any], path: str) -> str:
        elems = raw.get("elementDefs")
        # A def stored before elementDefs were checked may hold anything: no element matches then.
        for e in elems if isinstance(elems, list) else []:
            if not isinstance(e, dict):
                continue
            if isinstance(value, str) and str(e.get("value")).lower() == value.lower():
                return str(e.get("value"))
            if isinstance(value, int) and not isinstance(value, bool) and e.get("ordinal") == value:
                return str(e.get("value"))
        if isinstance(value, dict) and "value" in value:
            return ValueNormalizer._enum(value["value"], raw, path)
        raise InvalidValue(f"{path}: invalid value {shown(value, 60)} for enum {raw['name']}")

    def _struct(self, value: Any, type_name: str, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidValue(f"{path}: invalid value for type {type_name}")
        st = self.registry.get(type_name)
        assert st is not None
        inner = value.get("attributes")
        attrs: dict[str, Any] = inner if isinstance(inner, dict) else value
        out: dict[str, Any] = {}
        for name, a in st.attributes.items():
            v = attrs.get(name)
            if v is None:
                if not a.optional:
                    raise InvalidValue(f"{path}.{name}: mandatory attribute value missing in type {type_name}")
                continue
            out[name] = self.normalize(v, a.type_ref, f"{path}.{name}")
        return {"typeName": type_name, "attributes": out}
