"""The NINo database as Stat-Xplore describes it: folder, database, measure, fields, valuesets and values, with
Stat-Xplore's ids (DWP's own for the NINo database where they are known) and the finest cube codes each value covers.

Built from a released cube's manifest and the release's reference quarter alone: a quarter after it is not in the
schema, so it has no id and no request can name it. Pure; no web, no DuckDB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nino_assets.shared.quarters import Quarter, quarters_between

DATABASE_NAME = "Ninos"
ROOT_FOLDER_ID = "str:folder:root"
FOLDER_ID = "str:folder:fninos"
DATABASE_ID = f"str:database:{DATABASE_NAME}"
MEASURE_ID = f"str:count:{DATABASE_NAME}:V_F_NINOS"
FOLDER_LABEL = "National Insurance Number Allocations to Adult Overseas Nationals"
DATABASE_LABEL = "National Insurance Number Allocations to Adult Overseas Nationals entering the UK"
MEASURE_LABEL = "NINo registrations"


@dataclass(frozen=True)
class ValuesetSpec:
    name: str
    label: str
    level: str
    """The manifest's level this valueset lists ("quarter" for the quarters)."""


@dataclass(frozen=True)
class FieldSpec:
    dimension: str
    """The manifest's dimension ("quarter" for the quarters)."""
    table: str
    name: str
    label: str
    valuesets: tuple[ValuesetSpec, ...]
    """Finest level first: the cube's column holds its codes, and a field asked for without a recode lists it."""

    @property
    def id(self) -> str:
        return f"str:field:{DATABASE_NAME}:{self.table}:{self.name}"

    def valueset_id(self, valueset: ValuesetSpec) -> str:
        return f"str:valueset:{DATABASE_NAME}:{self.table}:{self.name}:{valueset.name}"


FIELD_SPECS = (
    FieldSpec("quarter", "F_NINO_QTR", "QTR_NAME", "Quarter of registration",
              (ValuesetSpec("C_NINO_QTR", "Quarter", "quarter"),)),
    FieldSpec("nationality", "V_F_NINOS", "NEWNAT", "Nationality",
              (ValuesetSpec("C_NINO_COUNTRY", "Nationality", "country"),
               ValuesetSpec("C_NINO_SUBGROUP", "Nationality subgroup", "subgroup"),
               ValuesetSpec("C_NINO_WORLD_AREA", "World area of nationality", "world_area"),
               ValuesetSpec("C_NINO_EU_NON_EU", "EU or non-EU nationality", "eu_group"))),
    FieldSpec("age", "V_F_NINOS", "AGE_CODE", "Age band at registration",
              (ValuesetSpec("C_NINO_AGE_BAND", "Age band", "band"),)),
    FieldSpec("sex", "V_F_NINOS", "CCSEX_CODE", "Sex", (ValuesetSpec("C_NINO_CCSEX", "Sex", "sex"),)),
    FieldSpec("geography", "V_F_NINOS", "UK_COA", "Area of residence at registration",
              (ValuesetSpec("V_C_MASTERGEOG11_LA_TO_REGION_NI", "Local authority", "local_authority"),
               ValuesetSpec("V_C_MASTERGEOG11_REGION_TO_COUNTRY", "Region", "region"),
               ValuesetSpec("V_C_MASTERGEOG11_COUNTRY_TO_UK", "Country", "country"))),
)
"""In the cube's column order: the table engine's codes and classes follow it."""
CUBE_FIELDS = tuple(spec.dimension for spec in FIELD_SPECS)
"""The cube engine's code columns (sql/service/), in the same order."""


@dataclass(frozen=True)
class Node:
    """A schema node: what `/schema/{id}` shows, and its children's ids."""

    id: str
    label: str
    type: str
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class Value:
    id: str
    label: str
    codes: frozenset[int]
    """The finest codes (numbers of the field's finest members) whose records this value counts."""


@dataclass(frozen=True)
class Field:
    spec: FieldSpec
    finest_codes: tuple[str, ...]
    """The cube column's codes, numbered by position."""
    valuesets: dict[str, tuple[Value, ...]]
    """By valueset id, finest first."""
    level_members: tuple[tuple[int | None, ...], ...]
    """For each valueset (level), by position: the number of the member each finest code belongs to."""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def default_valueset(self) -> str:
        return next(iter(self.valuesets))


@dataclass
class Schema:
    """The schema of one released cube: every node by id, and the fields with their values."""

    reference: Quarter | None
    fields: tuple[Field, ...] = ()
    nodes: dict[str, Node] = field(default_factory=dict)
    values: dict[str, tuple[Field, Value]] = field(default_factory=dict)

    def field_by_dimension(self, dimension: str) -> Field:
        return next(candidate for candidate in self.fields if candidate.spec.dimension == dimension)

    def field_of(self, node_id: str) -> Field | None:
        """The field a field id or a valueset id belongs to."""
        return next((candidate for candidate in self.fields
                     if node_id == candidate.id or node_id in candidate.valuesets), None)


def code_for_id(code: str) -> str:
    """A member code as the last part of a value id: Stat-Xplore's ids are colon-separated and have no spaces."""
    return re.sub(r"[^A-Za-z0-9]+", "_", code).strip("_").upper()


def _dimension_levels(manifest: dict, reference: Quarter) -> dict[str, dict[str, list[dict]]]:
    """The manifest's dimensions, with the quarters to the reference quarter as a one-level dimension."""
    first = Quarter.from_label(manifest["quarters"]["first"])
    last = min(Quarter.from_label(manifest["quarters"]["last"]), reference)
    quarters = [{"code": quarter.label, "label": quarter.label, "parent": None, "id_code": quarter.statxplore_code}
                for quarter in quarters_between(first, last)] if first <= last else []
    return {"quarter": {"quarter": quarters}, **manifest["dimensions"]}


def _field(spec: FieldSpec, levels: dict[str, list[dict]]) -> Field:
    finest_level = levels[spec.valuesets[0].level]
    finest_codes = tuple(member["code"] for member in finest_level)
    finest_of = {code: {number} for number, code in enumerate(finest_codes)}
    # each coarser level's member counts the finest codes of its children
    covered = {spec.valuesets[0].level: finest_of}
    for finer, coarser in zip(spec.valuesets, spec.valuesets[1:]):
        below: dict[str, set[int]] = {}
        for member in levels[finer.level]:
            below.setdefault(member["parent"], set()).update(covered[finer.level][member["code"]])
        covered[coarser.level] = below
    valuesets = {}
    for valueset in spec.valuesets:
        valueset_id = spec.valueset_id(valueset)
        values = tuple(
            Value(f"{valueset_id.replace('str:valueset:', 'str:value:', 1)}:"
                  f"{member.get('id_code') or code_for_id(member['code'])}",
                  member["label"], frozenset(covered[valueset.level].get(member["code"], ())))
            for member in levels[valueset.level])
        if len({value.id for value in values}) != len(values):
            raise ValueError(f"two members of {valueset_id} have the same id")
        valuesets[valueset_id] = values
    level_members = []
    for values in valuesets.values():
        member_of: list[int | None] = [None] * len(finest_codes)
        for number, value in enumerate(values):
            for code in value.codes:
                member_of[code] = number
        level_members.append(tuple(member_of))
    return Field(spec, finest_codes, valuesets, tuple(level_members))


def build_schema(manifest: dict | None, reference: Quarter | None) -> Schema:
    """The schema of a released cube; with no release, the root folder alone."""
    if manifest is None or reference is None:
        return Schema(reference=None, nodes={ROOT_FOLDER_ID: Node(ROOT_FOLDER_ID, "Root", "FOLDER")})
    levels = _dimension_levels(manifest, reference)
    fields = tuple(_field(spec, levels[spec.dimension]) for spec in FIELD_SPECS)
    nodes = {
        ROOT_FOLDER_ID: Node(ROOT_FOLDER_ID, "Root", "FOLDER", (FOLDER_ID,)),
        FOLDER_ID: Node(FOLDER_ID, FOLDER_LABEL, "FOLDER", (DATABASE_ID,)),
        DATABASE_ID: Node(DATABASE_ID, DATABASE_LABEL, "DATABASE",
                          (MEASURE_ID, *(field_.id for field_ in fields))),
        MEASURE_ID: Node(MEASURE_ID, MEASURE_LABEL, "MEASURE"),
    }
    values = {}
    for field_ in fields:
        nodes[field_.id] = Node(field_.id, field_.spec.label, "FIELD", tuple(field_.valuesets))
        for valueset, (valueset_id, members) in zip(field_.spec.valuesets, field_.valuesets.items()):
            nodes[valueset_id] = Node(valueset_id, valueset.label, "VALUESET", tuple(value.id for value in members))
            for value in members:
                nodes[value.id] = Node(value.id, value.label, "VALUE")
                values[value.id] = (field_, value)
    return Schema(reference, fields, nodes, values)


def node_body(schema: Schema, node_id: str, base_url: str) -> dict:
    """`/schema/{id}`'s body: the node with its absolute location, and its children (if it has any) in brief."""

    def brief(node: Node) -> dict:
        return {"id": node.id, "label": node.label, "location": f"{base_url}schema/{node.id}", "type": node.type}

    node = schema.nodes[node_id]
    if node.type == "VALUE":
        return brief(node)
    return {**brief(node), "children": [brief(schema.nodes[child]) for child in node.children]}
