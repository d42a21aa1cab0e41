"""`/table`: a Stat-Xplore table query read against the schema, the membership tables the cube engine counts it
with, and the response body in Stat-Xplore's shape. Pure; the counting is `CubeTables.perturbed_cells`.

A dimension is a field (or one of its valuesets). Its items are the recode's groups in order, each counting the
records of any of its values (a subset is groups of one value; a custom group has several), then the Total, which
counts the records of any item; with no recode, each value of the field's finest valueset (or of the valueset named)
is an item and there is no total. Every cell, totals included, is perturbed from its own records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from nino_assets.service.errors import BadRequest, CellLimitExceeded, UnknownId
from nino_assets.service.schema import (
    CUBE_FIELDS,
    DATABASE_ID,
    DATABASE_LABEL,
    DATABASE_NAME,
    MEASURE_ID,
    MEASURE_LABEL,
    Field,
    Schema,
)

DEFAULT_CELL_LIMIT = 1_000_000


def annotations(rounding_base: int) -> dict[str, str]:
    """The database's annotations, in every response (the rounding base is the released cube's, from its manifest).
    No item is marked "r": DWP publishes no scheduled revisions, and a registration is counted in its scan's quarter,
    so a published quarter never changes but by a correction."""
    return {
        "I": "Figures are perturbed by the cell key method and are not rounded here; the published tables round them "
             f"to the nearest {rounding_base}. Totals are perturbed from their own records, so cells need not add up "
             "to them, and the same cell has the same value in every table.",
    }


@dataclass(frozen=True)
class Item:
    uris: tuple[str, ...]
    labels: tuple[str, ...]
    codes: frozenset[int]
    is_total: bool = False

    def body(self) -> dict:
        if self.is_total:
            return {"type": "Total", "labels": ["Total"]}
        return {"type": "RecodeItem", "uris": list(self.uris), "labels": list(self.labels)}


@dataclass(frozen=True)
class Dimension:
    field: Field
    items: tuple[Item, ...]


@dataclass(frozen=True)
class TableQuery:
    echo: dict
    """The request as understood: database, measures, recodes (as sent, when sent) and dimensions."""
    measures: tuple[str, ...]
    dimensions: tuple[Dimension, ...]

    @property
    def cells(self) -> int:
        return int(np.prod([len(dimension.items) for dimension in self.dimensions], dtype=np.int64))


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    return value


def _strings(value: object, what: str) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest(f"{what} must be a list")
    return [_string(item, f"each of {what}") for item in value]


def _items(schema: Schema, field: Field, dimension_id: str, recode: object) -> tuple[Item, ...]:
    if recode is None:
        return tuple(Item((value.id,), (value.label,), value.codes)
                     for value in field.valuesets.get(dimension_id, field.valuesets[field.default_valueset]))
    if not isinstance(recode, dict):
        raise BadRequest(f"the recode of {dimension_id} must be an object with a map and a total")
    groups, total = recode.get("map"), recode.get("total", False)
    if not isinstance(groups, list) or not groups:
        raise BadRequest(f"the recode of {dimension_id} needs a map: a non-empty list of lists of value ids")
    if not isinstance(total, bool):
        raise BadRequest(f"the total of the recode of {dimension_id} must be true or false")
    items = []
    for group in groups:
        ids = _strings(group, f"a group of the recode of {dimension_id}")
        if not ids:
            raise BadRequest(f"a group of the recode of {dimension_id} is empty")
        values = []
        for value_id in ids:
            owner, value = schema.values.get(value_id, (None, None))
            if owner is None:
                raise UnknownId(f"unknown value id: {value_id}")
            if owner is not field:
                raise BadRequest(f"{value_id} is not a value of {field.id}")
            values.append(value)
        items.append(Item(tuple(ids), tuple(value.label for value in values),
                          frozenset().union(*(value.codes for value in values))))
    if total:
        items.append(Item((), ("Total",), frozenset().union(*(item.codes for item in items)), is_total=True))
    return tuple(items)


def _recodes_by_field(recodes: object, schema: Schema) -> dict[str, tuple[str, object]]:
    """The recodes by the id of the field each is for, keyed as Stat-Xplore allows: by the field's id or by one of
    its valuesets' ids. Two recodes of one field are refused, naming both keys."""
    if recodes is None:
        return {}
    if not isinstance(recodes, dict):
        raise BadRequest("recodes must be an object keyed by field id, or null")
    by_field: dict[str, tuple[str, object]] = {}
    for key, recode in recodes.items():
        owner = schema.field_of(key)
        if owner is None:
            raise UnknownId(f"unknown field id: {key}")
        if owner.id in by_field:
            raise BadRequest(f"{by_field[owner.id][0]} and {key} both recode {owner.id}; give one")
        by_field[owner.id] = (key, recode)
    return by_field


def read_table_query(body: object, schema: Schema, cell_limit: int = DEFAULT_CELL_LIMIT) -> TableQuery:
    """A request body checked against the schema: 422 for a malformed query, 400 for an id the schema lacks, and the
    cell limit before anything is counted."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object with database, measures and dimensions")
    database = _string(body.get("database"), "database")
    if database != DATABASE_ID or database not in schema.nodes:
        raise UnknownId(f"unknown database id: {database}")
    measures = _strings(body.get("measures"), "measures")
    if not measures:
        raise BadRequest("measures must name at least one measure")
    for measure in measures:
        if measure != MEASURE_ID:
            raise UnknownId(f"unknown measure id: {measure}")
    if len(set(measures)) != len(measures):
        raise BadRequest("a measure is asked for twice")
    recodes = _recodes_by_field(body.get("recodes"), schema)
    raw_dimensions = body.get("dimensions")
    if not isinstance(raw_dimensions, list):
        raise BadRequest("dimensions must be a list of one-element lists of field ids")
    if not raw_dimensions:
        raise BadRequest("dimensions must name at least one field")
    dimensions, seen = [], set()
    for entry in raw_dimensions:
        if not isinstance(entry, list) or len(entry) != 1:
            raise BadRequest("each dimension must be a one-element list holding a field id")
        dimension_id = _string(entry[0], "a dimension's field id")
        field = schema.field_of(dimension_id)
        if field is None:
            raise UnknownId(f"unknown field id: {dimension_id}")
        if field.id in seen:
            raise BadRequest(f"{field.id} is asked for twice")
        seen.add(field.id)
        _, recode = recodes.get(field.id, (None, None))
        dimensions.append(Dimension(field, _items(schema, field, dimension_id, recode)))
    for field_id, (key, _) in recodes.items():
        if field_id not in seen:
            raise BadRequest(f"{key} is recoded but is not one of the dimensions")
    # the echo keeps `recodes` as sent: null stays null, and a request without it gets none back
    echo = {"database": database, "measures": measures} | (
        {"recodes": body["recodes"]} if "recodes" in body else {}) | {"dimensions": raw_dimensions}
    query = TableQuery(echo, tuple(measures), tuple(dimensions))
    if query.cells > cell_limit:
        raise CellLimitExceeded(f"the table would have {query.cells:,} cells; the limit is {cell_limit:,}")
    return query


Grain = dict[str, int | None]
"""The level (valueset position, 0 the finest) each cube field is read at; None for a field summed over."""


def grain_of(query: TableQuery, schema: Schema) -> Grain:
    """The coarsest level of each field whose members the request's items are made of (an item is a union of
    whole members): a table of regions reads regions, not local authorities. The quarter has one level."""
    by_field = {dimension.field.spec.dimension: dimension for dimension in query.dimensions}
    grain: Grain = {}
    for name in CUBE_FIELDS:
        field, dimension = schema.field_by_dimension(name), by_field.get(name)
        if dimension is None:
            grain[name] = 0 if name == "quarter" else None
            continue
        members = list(field.valuesets.values())
        grain[name] = max(level for level in range(len(members)) if all(
            item.codes == frozenset().union(*(members[level][field.level_members[level][code]].codes
                                              for code in item.codes))
            for item in dimension.items))
    return grain


def grain_label(grain: Grain, schema: Schema) -> str:
    """As `rollup_cells` names a grain: each field's level, "total" for one summed over (the quarter left out)."""
    levels = (None if grain[name] is None else schema.field_by_dimension(name).spec.valuesets[grain[name]].level
              for name in CUBE_FIELDS[1:])
    return ".".join(level or "total" for level in levels)


def membership_tables(query: TableQuery, schema: Schema, grain: Grain) -> tuple[pa.Table, pa.Table]:
    """`code_classes` (field, code, class) and `class_items` (field, class, item) for the cube engine, on the codes
    of each field's level in `grain`: codes that belong to the same items share a class; a code in no item is left
    out; a field not asked for is one class (its code 0) in one item."""
    by_field = {dimension.field.spec.dimension: dimension for dimension in query.dimensions}
    code_rows: dict[str, list] = {"field": [], "code": [], "class": []}
    item_rows: dict[str, list] = {"field": [], "class": [], "item": []}
    for name in CUBE_FIELDS:
        field = schema.field_by_dimension(name)
        dimension = by_field.get(name)
        level = grain[name]
        codes = 1 if level is None else len(list(field.valuesets.values())[level])
        memberships: list[list[int]] = [[0] if dimension is None else [] for _ in range(codes)]
        for number, item in enumerate(dimension.items if dimension else ()):
            for code in {field.level_members[level][finest] for finest in item.codes}:
                memberships[code].append(number)
        classes: dict[tuple[int, ...], int] = {}
        for code, items in enumerate(memberships):
            if not items:
                continue
            membership = tuple(items)
            if membership not in classes:
                classes[membership] = len(classes)
                for item in membership:
                    item_rows["field"].append(name)
                    item_rows["class"].append(classes[membership])
                    item_rows["item"].append(item)
            code_rows["field"].append(name)
            code_rows["code"].append(code)
            code_rows["class"].append(classes[membership])
    schema_of = {"field": pa.string(), "code": pa.int32(), "class": pa.int32(), "item": pa.int32()}
    return (pa.table({name: pa.array(values, schema_of[name]) for name, values in code_rows.items()}),
            pa.table({name: pa.array(values, schema_of[name]) for name, values in item_rows.items()}))


def cell_values(query: TableQuery, cells: pa.Table) -> np.ndarray:
    """The perturbed cells as a dense array, one axis per dimension in the request's order; empty cells are 0."""
    shape = tuple(len(dimension.items) for dimension in query.dimensions)
    values = np.zeros(shape, dtype=np.float64)
    index = tuple(cells[f"{dimension.field.spec.dimension}_item"].to_numpy() for dimension in query.dimensions)
    values[index] = cells["perturbed_value"].to_numpy()
    return values


def table_response(query: TableQuery, values: np.ndarray, annotation_map: dict[str, str]) -> dict:
    """The response body, in Stat-Xplore's keys and order; values nested with the last dimension fastest."""
    return {
        "query": query.echo,
        "database": {"id": DATABASE_NAME, "uri": DATABASE_ID, "label": DATABASE_LABEL,
                     "annotationKeys": list(annotation_map)},
        "measures": [{"uri": measure, "label": MEASURE_LABEL, "measure": measure, "function": "COUNT"}
                     for measure in query.measures],
        "fields": [{"uri": dimension.field.id, "label": dimension.field.spec.label,
                    "items": [item.body() for item in dimension.items]} for dimension in query.dimensions],
        "cubes": {measure: {"values": values.tolist(), "precision": 0} for measure in query.measures},
        "annotationMap": annotation_map,
    }
