"""Which tables hold a tenant's data, found by reflection, and the logical schema fingerprint over them.

An entity table is every table with the tenant column (or an explicit list), minus `backup_jobs`
and Alembic's own table; adding a per-tenant table needs no code here. Column types are reduced to
logical kinds (`integer`, `text`, `uuid`, `bytes`, `timestamp`, ...), which decide how a value is
written to and read from CSV and are what the fingerprint compares, with nullability and the primary
key. The kinds are the same on SQLite and PostgreSQL: where a reflected column is stored exactly as
the application's declared column (`pipelines.core.database.metadata`) is on this backend (a uuid is
`CHAR(32)` on SQLite, `UUID` on PostgreSQL), its kind is the declared one and values are read and
written through the declared table; any other column keeps the kind of its reflected type, so a
column whose type was changed is a difference the restore names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.requests import shorten
from pipelines.tenant_archives.errors import TenantArchiveError
from pipelines.tenant_archives.requests import DEFAULT_TENANT_COLUMN, tenant_problem

NOT_ENTITIES = frozenset({"backup_jobs", "alembic_version"})

# Order matters: JSON before text, Float before Numeric (a subclass), DateTime before Date.
_KINDS: tuple[tuple[type, str], ...] = (
    (sa.JSON, "json"),
    (sa.LargeBinary, "bytes"),
    (sa.DateTime, "timestamp"),
    (sa.Date, "date"),
    (sa.Boolean, "boolean"),
    (sa.Uuid, "uuid"),
    (sa.Integer, "integer"),
    (sa.Float, "float"),
    (sa.Numeric, "numeric"),
    (sa.String, "text"),
)


@dataclass(frozen=True)
class EntityColumn:
    name: str
    kind: str
    nullable: bool
    primary_key: bool = False


@dataclass(frozen=True)
class Entity:
    """One entity table: its reflected Table (for queries) and its columns in table order."""

    table: sa.Table
    columns: tuple[EntityColumn, ...]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def describe(self) -> list[list[object]]:
        return [[c.name, c.kind, c.nullable, c.primary_key] for c in self.columns]


def column_kind(table: str, column: sa.Column) -> str:
    col_type = column.type
    if isinstance(col_type, sa.types.TypeDecorator):
        col_type = col_type.impl_instance
    for sa_type, kind in _KINDS:
        if isinstance(col_type, sa_type):
            return kind
    raise TenantArchiveError(
        f"table {table!r}: column {column.name!r} has type {column.type!r}, which archives cannot hold; "
        "use one of integer, float, numeric, boolean, text, bytes, date, timestamp, uuid or JSON"
    )


def discover_entities(
    conn: Connection, tenant_column: str = DEFAULT_TENANT_COLUMN, tables: Sequence[str] | None = None
) -> list[Entity]:
    """The entity tables of this database, parents before children (foreign-key order)."""
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    if tables:
        missing = sorted(set(tables) - existing)
        if missing:
            raise TenantArchiveError(f"tables: {', '.join(missing)} not found in the database")
        names = list(tables)
    else:
        columns = inspector.get_multi_columns()  # one catalog query for every table
        names = sorted(
            name
            for (_schema, name), found in columns.items()
            if name not in NOT_ENTITIES and any(c["name"] == tenant_column for c in found)
        )
    reflected = sa.MetaData()
    reflected.reflect(conn, only=names)
    entities = []
    for table in reflected.sorted_tables:
        if table.name not in names:
            continue  # a table only pulled in as a foreign-key target
        if tenant_column not in table.c:
            raise TenantArchiveError(f"table {table.name!r} has no tenant column {tenant_column!r}")
        entities.append(_entity(table, conn.dialect))
    return entities


def _entity(reflected: sa.Table, dialect: sa.Dialect) -> Entity:
    declared = _declared_tables().get(reflected.name)
    columns = []
    stored_as_declared = declared is not None
    for column in reflected.c:
        model = declared.c.get(column.name) if declared is not None else None
        logical = model if model is not None and _ddl(model, dialect) == _ddl(column, dialect) else column
        stored_as_declared = stored_as_declared and logical is model
        columns.append(
            EntityColumn(column.name, column_kind(reflected.name, logical), bool(column.nullable), column.primary_key)
        )
    # Values go through the declared types (a uuid.UUID, an aware datetime) when every column is stored as declared.
    return Entity(declared if stored_as_declared else reflected, tuple(columns))


def _ddl(column: sa.Column, dialect: sa.Dialect) -> str:
    return " ".join(column.type.compile(dialect=dialect).upper().split())


def _declared_tables() -> dict[str, sa.Table]:
    import pipelines.tenant_archives.tables  # noqa: F401 - the declared entity tables join `metadata`
    from pipelines.core.database import metadata

    return dict(metadata.tables)


def schema_of(entities: Sequence[Entity]) -> dict[str, list[list[object]]]:
    """Tables -> [column, kind, nullable, in primary key] rows: what the fingerprint is computed from."""
    # Columns by name: the CSV header names them, so their order in the table does not matter.
    return {entity.name: sorted(entity.describe()) for entity in sorted(entities, key=lambda e: e.name)}


def fingerprint(schema: dict[str, list[list[object]]]) -> str:
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def schema_differences(archived: dict[str, list[list[object]]], target: dict[str, list[list[object]]]) -> list[str]:
    """Each difference between the archive's schema and the target's, as a sentence."""
    problems = []
    for table in sorted(set(archived) | set(target)):
        if table not in target:
            problems.append(f"table {shorten(table)} is in the archive but not in the target database")
        elif table not in archived:
            problems.append(f"table {shorten(table)} is in the target database but not in the archive")
        else:
            ours = {c[0]: c for c in archived[table]}
            theirs = {c[0]: c for c in target[table]}
            for name in sorted(set(ours) | set(theirs)):
                if name not in ours:
                    problems.append(f"table {shorten(table)}: column {shorten(name)} is in the target database but not in the archive")
                elif name not in theirs:
                    problems.append(f"table {shorten(table)}: column {shorten(name)} is in the archive but not in the target database")
                elif ours[name] != theirs[name]:
                    problems.append(
                        f"table {shorten(table)}: column {shorten(name)} is {_show(ours[name])} in the archive "
                        f"but {_show(theirs[name])} in the target database"
                    )
    return problems


def _show(column: list[object]) -> str:
    key = " PRIMARY KEY" if len(column) > 3 and column[3] else ""
    return f"{column[1]} {'NULL' if column[2] else 'NOT NULL'}{key}"


def check_tenant(tenant: str, field: str = "tenant") -> str:
    """A tenant name is a folder of the archive keys (the rule: `requests.tenant_problem`)."""
    problem = tenant_problem(tenant)
    if problem:
        raise TenantArchiveError(f"{field} {tenant!r} {problem}")
    return tenant


def tables_holding(conn: Connection, entities: Sequence[Entity], tenant: str, tenant_column: str) -> list[str]:
    """The entity tables that have at least one row of `tenant`."""
    return [
        entity.name
        for entity in entities
        if conn.scalar(sa.select(sa.exists().where(entity.table.c[tenant_column] == tenant)))
    ]
