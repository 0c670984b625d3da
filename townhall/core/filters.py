"""Mongo-style filter conditions ($eq, $in, $and, ...) compiled to SQL; used by every query API.

A field map names what may be filtered: a column expression, or a function ``(op, value) ->
clause`` for fields that need a subquery. Unknown fields go to the JSON ``custom`` column when the
caller gives one; otherwise they are an input error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, not_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean, NullType

from townhall.core.clock import parse_time
from townhall.core.errors import Invalid

FieldSpec = ColumnElement[Any] | Callable[[str, Any], ColumnElement[bool]]
OPERATORS = frozenset(
    {"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$autocomplete", "$contains", "$q"}
)
MAX_DEPTH = 8
MAX_IN = 1000


class json_field(FunctionElement[Any]):
    """``col -> name`` as a natively comparable value (for ORDER BY on custom fields)."""

    type = NullType()
    inherit_cache = True


@compiles(json_field, "sqlite")
def _json_field_sqlite(element: json_field, compiler: Any, **kw: Any) -> str:
    col, name = list(element.clauses)
    return f"json_extract({compiler.process(col, **kw)}, '$.' || {compiler.process(name, **kw)})"


@compiles(json_field, "postgresql")
def _json_field_pg(element: json_field, compiler: Any, **kw: Any) -> str:
    col, name = list(element.clauses)
    return f"({compiler.process(col, **kw)} -> {compiler.process(name, **kw)})"


class json_array_contains(FunctionElement[bool]):
    """True when the JSON array at ``col -> name`` contains ``value``."""

    type = Boolean()
    inherit_cache = True


@compiles(json_array_contains, "sqlite")
def _contains_sqlite(element: json_array_contains, compiler: Any, **kw: Any) -> str:
    col, name, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({col}, '$.' || {name}) WHERE json_each.value = {value})"


@compiles(json_array_contains, "postgresql")
def _contains_pg(element: json_array_contains, compiler: Any, **kw: Any) -> str:
    col, name, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"(({col} -> {name}) @> jsonb_build_array({value}))"


class json_list_contains(FunctionElement[bool]):
    """True when the JSON array in ``col`` contains ``value``."""

    type = Boolean()
    inherit_cache = True


@compiles(json_list_contains, "sqlite")
def _list_contains_sqlite(element: json_list_contains, compiler: Any, **kw: Any) -> str:
    col, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value = {value})"


@compiles(json_list_contains, "postgresql")
def _list_contains_pg(element: json_list_contains, compiler: Any, **kw: Any) -> str:
    col, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"({col} @> jsonb_build_array({value}))"


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def compile_filter(
    conditions: Mapping[str, Any] | None,
    fields: Mapping[str, FieldSpec],
    *,
    custom: ColumnElement[Any] | None = None,
    _depth: int = 0,
) -> ColumnElement[bool]:
    if conditions is None:
        return true()
    if not isinstance(conditions, Mapping):
        raise Invalid("invalid_filter", "filter conditions must be an object")
    if _depth > MAX_DEPTH:
        raise Invalid("invalid_filter", "filter conditions are nested too deeply")
    clauses: list[ColumnElement[bool]] = []
    for key, value in conditions.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list) or not value:
                raise Invalid("invalid_filter", f"{key} takes a non-empty list of conditions")
            parts = [compile_filter(c, fields, custom=custom, _depth=_depth + 1) for c in value]
            if key == "$and":
                clauses.append(and_(*parts))
            elif key == "$or":
                clauses.append(or_(*parts))
            else:
                clauses.append(not_(or_(*parts)))
        elif key.startswith("$"):
            raise Invalid("invalid_filter", f"unknown filter operator {key}")
        else:
            clauses.append(_field_clause(key, value, fields, custom))
    return and_(true(), *clauses)


def _field_clause(
    name: str, value: Any, fields: Mapping[str, FieldSpec], custom: ColumnElement[Any] | None
) -> ColumnElement[bool]:
    ops = value if isinstance(value, Mapping) else {"$eq": value}
    if not ops:
        raise Invalid("invalid_filter", f"empty condition for field {name}")
    parts = []
    for op, operand in ops.items():
        if op not in OPERATORS:
            raise Invalid("invalid_filter", f"unknown operator {op} for field {name}")
        spec = fields.get(name)
        if spec is not None and callable(spec) and not isinstance(spec, ColumnElement):
            parts.append(spec(op, operand))
        elif spec is not None:
            parts.append(column_clause(spec, op, operand, name))
        elif custom is not None:
            parts.append(_custom_clause(custom, name, op, operand))
        else:
            raise Invalid("invalid_filter", f"cannot filter on field {name}")
    return and_(*parts)


def _coerce(col: ColumnElement[Any], value: Any) -> Any:
    try:
        python_type = col.type.python_type
    except (NotImplementedError, AttributeError):
        python_type = None
    if python_type is datetime and isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError as exc:
            raise Invalid("invalid_filter", f"invalid date {value!r}") from exc
    return value


def column_clause(col: ColumnElement[Any], op: str, value: Any, name: str) -> ColumnElement[bool]:
    if op in ("$in", "$nin"):
        if not isinstance(value, list):
            raise Invalid("invalid_filter", f"{op} on {name} takes a list")
        if len(value) > MAX_IN:
            raise Invalid("invalid_filter", f"{op} on {name} takes at most {MAX_IN} values")
        values = [_coerce(col, v) for v in value]
        if not values:
            return false() if op == "$in" else true()
        return col.in_(values) if op == "$in" else or_(col.is_(None), col.not_in(values))
    if op == "$exists":
        return col.is_not(None) if value else col.is_(None)
    if op in ("$autocomplete", "$q"):
        if not isinstance(value, str) or not value:
            raise Invalid("invalid_filter", f"{op} on {name} takes a non-empty string")
        text = like_escape(value.lower())
        lowered = func.lower(col)
        return or_(lowered.like(f"{text}%", escape="\\"), lowered.like(f"% {text}%", escape="\\"))
    if op == "$contains":
        raise Invalid("invalid_filter", f"$contains is not supported on field {name}")
    if isinstance(value, (Mapping, list)):
        raise Invalid("invalid_filter", f"{op} on {name} takes a scalar value")
    value = _coerce(col, value)
    if op == "$eq":
        return col.is_(None) if value is None else col == value
    if op == "$ne":
        return col.is_not(None) if value is None else or_(col.is_(None), col != value)
    return {"$gt": col > value, "$gte": col >= value, "$lt": col < value, "$lte": col <= value}[op]


def _typed_json(custom: ColumnElement[Any], name: str, value: Any) -> ColumnElement[Any]:
    element = custom[name]  # type: ignore[index]
    if isinstance(value, bool):
        return element.as_boolean()
    if isinstance(value, int):
        return element.as_integer()
    if isinstance(value, float):
        return element.as_float()
    return element.as_string()


def _custom_clause(custom: ColumnElement[Any], name: str, op: str, value: Any) -> ColumnElement[bool]:
    if op == "$contains":
        if isinstance(value, (Mapping, list)):
            raise Invalid("invalid_filter", f"$contains on {name} takes a scalar value")
        return json_array_contains(custom, name, value)
    if op == "$exists":
        return json_field(custom, name).is_not(None) if value else json_field(custom, name).is_(None)
    sample = value[0] if op in ("$in", "$nin") and isinstance(value, list) and value else value
    return column_clause(_typed_json(custom, name, sample), op, value, name)


def compile_sort(
    sort: Sequence[tuple[str, int]],
    fields: Mapping[str, Any],
    *,
    custom: ColumnElement[Any] | None = None,
) -> list[Any]:
    out = []
    for name, direction in sort:
        col = fields.get(name)
        if col is None or callable(col) and not isinstance(col, ColumnElement):
            if custom is None:
                raise Invalid("invalid_sort", f"cannot sort on field {name}")
            col = json_field(custom, name)
        out.append(col.desc().nulls_last() if direction < 0 else col.asc().nulls_first())
    return out


def parse_sort(raw: Any) -> list[tuple[str, int]]:
    """Stream sends ``[{"field": "x", "direction": -1}]``, ``[{"x": -1}]`` or a ``{"x": -1}`` map."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raw = [{"field": k, "direction": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise Invalid("invalid_sort", "sort must be a list of {field, direction}")
    out = []
    for item in raw:
        if isinstance(item, Mapping) and "field" not in item and len(item) == 1:
            item = {"field": next(iter(item)), "direction": next(iter(item.values()))}  # {"x": -1}
        if not isinstance(item, Mapping) or not isinstance(item.get("field"), str):
            raise Invalid("invalid_sort", "each sort item needs a field name")
        direction = item.get("direction", 1)
        if direction not in (1, -1):
            raise Invalid("invalid_sort", "sort direction must be 1 or -1")
        out.append((item["field"], direction))
    return out
