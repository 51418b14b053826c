"""Bounds on what the embedded Atlas API accepts, so no request can exhaust the stack, the JSON encoder or memory.

Where Atlas has a bound of its own (``atlas.search.maxlimit``, ``atlas.query.param.max.length``, custom attribute
and label lengths, the purge request size) the value and the answer are Atlas's. The nesting bounds are ours:
Atlas leaves them to Jackson and the JVM stack; here they are set far above any real Atlas model and far below
what Python's recursion limit (1000) and orjson's encoder (254 levels) can take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Bytes of one request body. Atlas's Jetty sets no body limit; 16 MiB is 16x the largest hook message Atlas
# handles unsplit (atlas.notification.message.max.length.bytes, 1 MB) and keeps a worst case in memory small.
MAX_BODY_BYTES = 16 * 1024 * 1024
# JSON levels of a whole request body: an attribute value (MAX_VALUE_DEPTH) plus its envelope (entities list,
# entity, attributes, relationshipAttributes...) fits; an answer that echoes a body stays under orjson's 254.
MAX_BODY_DEPTH = 128
# JSON levels of one attribute value. Atlas's types nest a few levels (array<map<string,array<string>>> is 3,
# a struct adds 2: {"attributes": {...}}); 64 holds any type MAX_TYPE_NESTING allows with structs inside.
MAX_VALUE_DEPTH = 64
# array<...>/map<...> levels in one attribute type name (Atlas's own models use at most 2).
MAX_TYPE_NESTING = 16
# superTypes levels of one type (Atlas's own deepest chain is 5: Referenceable > Asset > DataSet > ...).
MAX_SUPERTYPE_DEPTH = 64
# criterion levels of a search filter (Atlas's UI builds 2-3: a group of rules in a group).
MAX_FILTER_DEPTH = 32

QUERY_PARAM_MAX_LENGTH = 4096  # atlas.query.param.max.length (typeName, classification, sortBy, guid)
FULLTEXT_QUERY_MAX_LENGTH = 4096  # atlas.graph.fulltext-max-query-str-length
PURGE_MAX_GUIDS = 1000  # atlas.purge.api.max.request.size
CUSTOM_ATTRIBUTE_KEY_MAX_LENGTH = 50  # atlas.custom.attribute.key.max.length
CUSTOM_ATTRIBUTE_VALUE_MAX_LENGTH = 500  # atlas.custom.attribute.value.max.length
LABEL_MAX_LENGTH = 50  # atlas.entity.label.max.length
SEARCH_MAX_LIMIT = 10000  # atlas.search.maxlimit
SEARCH_DEFAULT_LIMIT = 100  # atlas.search.defaultlimit

JAVA_INT = (-(2**31), 2**31 - 1)  # Jackson/Jersey parse limit, offset, depth, ordinals... as Java ints
JAVA_LONG = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Limits:
    """The configurable bounds of one Atlas API (Atlas's own settings for the search page)."""

    max_body_bytes: int = MAX_BODY_BYTES
    search_max_limit: int = SEARCH_MAX_LIMIT
    search_default_limit: int = SEARCH_DEFAULT_LIMIT


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/objects more than ``limit`` levels deep (a scalar is 0 levels).

    Level by level, without recursion, so a value nested far deeper than the stack allows is measured too."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list[Any] = []
        for v in level:
            inner.extend(c for c in (v.values() if isinstance(v, dict) else v) if isinstance(c, dict | list))
        level = inner
    return False


def shown(value: Any, width: int = 100) -> str:
    """``value`` as text for an error message, cut to ``width`` characters: an answer never echoes megabytes."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[:width] + f"...({len(text)} characters)"


def in_range(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]
