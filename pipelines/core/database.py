"""The application database: one engine per URL, one way to open a transaction, one bulk insert.

PostgreSQL is the production backend (psycopg 3; bulk writes use binary COPY); SQLite is the
embedded default (chunked executemany). Domains write their tables against `metadata` and use
`Database.begin()` / `Database.bulk_insert()`; none opens its own engine or writes its own COPY.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import pydantic_core
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.ext.compiler import compiles

from pipelines.core.errors import ConfigurationError
from pipelines.core.rfc4180 import CsvFormatError
from pipelines.core.secrets import mask
from pipelines.core.settings import PIPELINES_DATABASE_URL, default_database_url

log = logging.getLogger(__name__)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class TZDateTime(sa.TypeDecorator):
    """A timestamp with time zone on both backends: stored as UTC, always returned aware (UTC).

    SQLite has no time zone type; naive values are refused so that no local time slips in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where a time zone is required")
        value = value.astimezone(dt.timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Surrogate keys: BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY.
IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def parse_database_url(url: str, setting: str = PIPELINES_DATABASE_URL.name) -> sa.URL:
    """Validate a database URL and pick our drivers (psycopg 3 for PostgreSQL)."""
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            setting, f"malformed database URL {_redact(url)!r}: expected e.g. postgresql://user@host:5432/db"
        ) from None
    except ValueError:  # SQLAlchemy parses the port as an int
        raise ConfigurationError(
            setting, f"malformed database URL {_redact(url)!r}: its port is not a number (e.g. host:5432)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if not parsed.database:
            raise ConfigurationError(setting, f"database URL {_redact(url)!r} names no database")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise ConfigurationError(
        setting, f"unsupported database {backend!r} in {_redact(url)!r}: use postgresql:// or sqlite:///"
    )


def _redact(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return mask(url)


def _engine_for(url: sa.URL) -> Engine:
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create_engine(url)
            _engines[key] = engine
        return engine


def _create_engine(url: sa.URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions (pysqlite's implicit ones skip DDL), and turn on the
            # foreign keys SQLite leaves off by default.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class Database:
    """A handle on the application database. Cheap to create: engines are shared per URL."""

    def __init__(self, url: str | None = None, *, home: str | None = None, setting: str | None = None):
        raw = url or PIPELINES_DATABASE_URL.get() or default_database_url(home)
        self.setting = setting or PIPELINES_DATABASE_URL.name
        self.url = parse_database_url(raw, self.setting)
        self.engine = _engine_for(self.url)

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except OperationalError as exc:
            raise ConfigurationError(
                self.setting,
                f"cannot connect to {self.url.render_as_string(hide_password=True)}: {_first_line(exc)}",
            ) from None
        with conn:
            yield conn

    def dispose(self) -> None:
        """Close this URL's pooled connections (tests that drop their schema call this)."""
        with _engines_lock:
            _engines.pop(self.url.render_as_string(hide_password=False), None)
        self.engine.dispose()

    def check(self) -> None:
        """Connect once; raise `ConfigurationError` naming the setting when that fails."""
        with self.begin() as conn:
            conn.execute(sa.text("SELECT 1"))

    def has_table(self, name: str) -> bool:
        """Whether the schema holds `name` (a sensor on a database never upgraded skips instead of failing)."""
        with self._connect() as conn:
            return sa.inspect(conn).has_table(name)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration of every domain."""
        from pipelines.migrations import upgrade

        upgrade(self)

    def bulk_insert(
        self,
        conn: Connection,
        table: sa.Table,
        rows: Iterable[Mapping[str, Any]] | Iterable[Sequence[Any]],
        *,
        columns: Sequence[str] | None = None,
        chunk_size: int = 5000,
    ) -> int:
        """Insert many rows inside the caller's transaction; returns how many.

        `rows` are mappings, or tuples in the order of `columns`. PostgreSQL: binary COPY.
        Elsewhere: executemany in chunks. Either way, rows are consumed as a stream.
        """
        rows = iter(rows)
        first = next(rows, None)
        if first is None:
            return 0
        if columns is None:
            if not isinstance(first, Mapping):
                raise TypeError("bulk_insert: tuple rows need `columns`")
            columns = list(first.keys())
        stream = _chain_first(first, rows)
        if self.is_postgres:
            return _copy_rows(conn, table, columns, stream)
        return _executemany_rows(conn, table, columns, stream, chunk_size)

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """One consistent read of every table that does not stop writers meanwhile.

        PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite: `begin()` is BEGIN IMMEDIATE, a
        write lock for the whole read; a deferred transaction on its own connection reads one
        snapshot (WAL mode) and lets writers go on.
        """
        if self.is_postgres:
            with self.begin() as conn:
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield conn
            return
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _driver_autocommit)
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN DEFERRED"))
        try:
            with engine.connect() as conn, conn.begin():
                yield conn
        finally:
            engine.dispose()

    def stream(
        self, conn: Connection, statement: sa.Executable, batch_size: int = 5000
    ) -> Iterator[Sequence[sa.Row]]:
        """Read a large result in batches (a server-side cursor on PostgreSQL)."""
        # Per statement: Connection.execution_options() would change `conn` itself for good.
        result = conn.execute(statement, execution_options={"yield_per": batch_size})
        yield from result.partitions()


def copy_out_csv(conn: Connection, query: sa.Select) -> Iterator[memoryview]:
    """PostgreSQL: the rows of `query` as the server's own CSV (`COPY (...) TO STDOUT WITH (FORMAT
    csv)`), one buffer per row, each ending with its LF. Values must be rendered to text by `query`.
    The SQLite path beside it: `Database.stream` the same rows and write them with `core.rfc4180`."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
        yield from copy


CsvConversion = Callable[[sa.ColumnElement[Any]], sa.ColumnElement[Any]]
_STAGE = sa.table("pipelines_csv_stage", schema="pg_temp")  # this session's own, dropped at commit at the latest


def copy_in_csv(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    chunks: Iterable[bytes],
    convert: Mapping[str, CsvConversion] | None = None,
) -> int:
    """PostgreSQL: load one CSV document (UTF-8, a header row naming `columns` in order, NULL an
    empty unquoted field, `""` the empty string) into `table`, parsed by the server; returns the
    rows of the file. Inside the caller's transaction, so a later failure rolls it back too.

    Without `convert`: `COPY table (columns) FROM STDIN WITH (FORMAT csv, HEADER MATCH)`. With it
    (column -> expression over that column's CSV text): the file is copied into a temporary table
    with the target's own types except the converted columns (text), then `INSERT INTO table SELECT`
    the converted columns' expressions and the others as they are. A bad file raises `CsvFormatError`
    with the server's message and where it was (line, column). The SQLite path beside it:
    `core.rfc4180.read_records` and `Database.bulk_insert`.
    """
    convert = convert or {}
    prep = conn.dialect.identifier_preparer
    quoted = ", ".join(prep.quote(c) for c in columns)
    target, stage_name = prep.format_table(table), prep.format_table(_STAGE)
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        into = target
        if convert:
            staged = ", ".join(
                f"CAST(NULL AS TEXT) AS {prep.quote(c)}" if c in convert else prep.quote(c) for c in columns
            )
            cursor.execute(f"CREATE TEMPORARY TABLE {stage_name} ON COMMIT DROP AS SELECT {staged} FROM {target} WITH NO DATA")
            into = stage_name
        count = _copy_csv(cursor, f"COPY {into} ({quoted}) FROM STDIN WITH (FORMAT csv, HEADER MATCH, ENCODING 'UTF8')", chunks)
        if convert:
            stage = sa.table(_STAGE.name, *(sa.column(c) for c in columns), schema=_STAGE.schema)
            select = sa.select(*(convert[c](stage.c[c]) if c in convert else stage.c[c] for c in columns))
            insert = sa.insert(table).from_select(list(columns), select)
            try:
                conn.execute(insert)
            except sa.exc.DataError as exc:
                raise CsvFormatError(_first_line(exc)) from None
            cursor.execute(f"DROP TABLE {stage_name}")  # the next file stages its own columns
    return count


def _copy_csv(cursor: Any, statement: str, chunks: Iterable[bytes]) -> int:
    import psycopg

    try:
        with cursor.copy(statement) as copy:
            for chunk in chunks:
                copy.write(chunk)
    except psycopg.DataError as exc:  # class 22: the file's text, not the database, is wrong
        context = (exc.diag.context or "").splitlines()
        where = context[0].removeprefix("COPY ").split(", ", 1)[-1] if context else ""
        raise CsvFormatError(f"{exc.diag.message_primary} ({where})" if where else str(exc)) from None
    return cursor.rowcount


class OneOf(sa.sql.ColumnElement[bool]):
    """`column` is one of `values`, with the list as ONE parameter whatever its length (one parameter
    per value stops at 65,535 on PostgreSQL, 32,766 on SQLite). The dialect-specific part:
    PostgreSQL `column = ANY(:array)`, SQLite `column IN (SELECT value FROM json_each(:json))`."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(self, column: sa.ColumnElement[Any], values: Sequence[Any]):
        self.column, self.values = column, list(values)


@compiles(OneOf, "postgresql")
def _one_of_postgresql(element: OneOf, compiler: Any, **kw: Any) -> str:
    element_type = element.column.type if not isinstance(element.column.type, sa.types.NullType) else sa.Text()
    array = sa.bindparam(None, element.values, type_=postgresql.ARRAY(element_type))
    return compiler.process(element.column == sa.any_(array), **kw)


@compiles(OneOf)
def _one_of_sqlite(element: OneOf, compiler: Any, **kw: Any) -> str:
    values = sa.func.json_each(sa.bindparam(None, json.dumps(element.values, default=str))).table_valued("value")
    return compiler.process(element.column.in_(sa.select(values.c.value)), **kw)


def in_values(column: sa.ColumnElement[Any], values: Sequence[Any]) -> OneOf:
    """`column IN (values)` for a list of any length, as one bound parameter (see `OneOf`)."""
    return OneOf(column, values)


def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy, not pysqlite, decides where transactions begin


def insert_skipping_conflicts(conn: Connection, table: sa.Table, key: Sequence[str]) -> sa.Insert:
    """`INSERT ... ON CONFLICT (key) DO NOTHING` in `conn`'s dialect (PostgreSQL's or SQLite's; both
    spell it the same). Add `.values`, `.from_select` or `.returning` as for any insert."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(key))


def analyze(conn: Connection, tables: Mapping[sa.Table, Sequence[str]], *, statistics_target: int = 10) -> None:
    """Fresh statistics of `tables` (of the columns listed; all if none) after a bulk load, inside the
    caller's transaction, so PostgreSQL plans the set-based statements that follow as joins (without
    them it assumes small tables and loops). A sample of 300 x `statistics_target` rows per table:
    the plans need sizes and rough distributions, not PostgreSQL's default 30,000-row sample (a tenth
    of a 100k-object import batch). SQLite plans well enough without."""
    if conn.dialect.name != "postgresql":
        return
    preparer = conn.dialect.identifier_preparer
    named = []
    for table, columns in tables.items():
        listed = f" ({', '.join(preparer.quote(c) for c in columns)})" if columns else ""
        named.append(preparer.format_table(table) + listed)
    with local_settings(conn, default_statistics_target=str(int(statistics_target))):
        conn.exec_driver_sql("ANALYZE " + ", ".join(named))


@contextmanager
def local_settings(conn: Connection, **settings: str) -> Iterator[None]:
    """PostgreSQL: the statements of the block run with these settings (`set_config(..., is_local)`,
    put back after the block; a failure's rollback undoes them anyway). For example `work_mem="64MB"`
    for a large join that would otherwise spill to disk in batches, or `jit="off"` for a statement whose
    estimate (not its work) passes `jit_above_cost`. SQLite has no such settings: nothing."""
    if conn.dialect.name != "postgresql":
        yield
        return
    before = {name: conn.scalar(sa.select(sa.func.current_setting(name))) for name in settings}
    for name, value in settings.items():
        conn.execute(sa.select(sa.func.set_config(name, value, True)))
    yield
    for name, value in before.items():
        conn.execute(sa.select(sa.func.set_config(name, value, True)))


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _as_tuples(columns: Sequence[str], rows: Iterable[Any]) -> Iterator[Sequence[Any]]:
    for row in rows:
        yield tuple(row[c] for c in columns) if isinstance(row, Mapping) else row


_PG_COPY_TYPES: list[tuple[type, str]] = [
    (sa.BigInteger, "int8"),
    (sa.SmallInteger, "int2"),
    (sa.Integer, "int4"),
    (sa.Boolean, "bool"),
    (sa.Float, "float8"),
    (sa.Numeric, "numeric"),
    (sa.Uuid, "uuid"),
    (sa.LargeBinary, "bytea"),
    (sa.Date, "date"),
    (sa.DateTime, "timestamp"),
    (sa.Text, "text"),
    (sa.String, "text"),
]


def _pg_copy_type(column: sa.Column) -> tuple[str, Any] | None:
    """The psycopg type name for a binary COPY of this column, plus the value adapter a text COPY needs."""
    col_type = column.type
    if isinstance(col_type, TZDateTime):
        return "timestamptz", _utc
    if isinstance(col_type, sa.JSON) or isinstance(
        col_type.dialect_impl(postgresql.dialect()), (sa.JSON, postgresql.JSONB)
    ):
        from psycopg.types.json import Jsonb

        return "jsonb", lambda v: None if v is None else Jsonb(v)
    if isinstance(col_type, sa.DateTime) and col_type.timezone:
        return "timestamptz", None
    if isinstance(col_type, sa.Enum):
        return "text", None
    for sa_type, name in _PG_COPY_TYPES:
        if isinstance(col_type, sa_type):
            if isinstance(col_type, sa.String) and col_type.length:
                return "varchar", None
            return name, None
    return None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given where a time zone is required")
    return value


def _json_bytes(value: Any) -> bytes | str:
    """A JSON value for a binary COPY: pydantic's serializer (in Rust, about 7x `json.dumps` on the
    small objects the loaders write); what it refuses (a string with a lone surrogate) goes through
    `json.dumps` as before, so PostgreSQL gives its own error."""
    try:
        return pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError:
        return json.dumps(value)


def _copy_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Any]) -> int:
    types = [_pg_copy_type(table.c[name]) for name in columns]
    binary = all(t is not None for t in types)
    # Binary COPY: psycopg dumps every value by its column's declared type, in C (a jsonb column takes
    # any JSON value, a timestamptz one refuses a naive datetime), so rows go as they are. Text COPY
    # (a column type with no binary form here): only the columns that need it are adapted per row.
    adapt = [] if binary else [(i, t[1]) for i, t in enumerate(types) if t and t[1]]
    zoned = [i for i, t in enumerate(types) if t and t[0] == "timestamptz"]
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    target = conn.dialect.identifier_preparer.format_table(table)
    sql = f"COPY {target} ({quoted}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
    raw = conn.connection.driver_connection
    count = 0
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        if binary:
            if any(t[0] == "jsonb" for t in types):
                from psycopg.types.json import set_json_dumps

                set_json_dumps(_json_bytes, context=cursor)
            copy.set_types([t[0] for t in types])
        for row in _as_tuples(columns, rows):
            if adapt:
                row = list(row)
                for i, adapter in adapt:
                    row[i] = adapter(row[i])
            elif not binary:
                row = tuple(json.dumps(v) if isinstance(v, (dict, list)) else v for v in row)
            try:
                copy.write_row(row)
            except TypeError:
                for i in zoned:  # psycopg's own message for a naive datetime names no value
                    _utc(row[i])
                raise
            count += 1
    return count


def _executemany_rows(
    conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Any], chunk_size: int
) -> int:
    insert = table.insert()
    count = 0
    iterator = iter(rows)
    while chunk := list(islice(iterator, chunk_size)):
        conn.execute(
            insert,
            [dict(row) if isinstance(row, Mapping) else dict(zip(columns, row)) for row in chunk],
        )
        count += len(chunk)
    return count
