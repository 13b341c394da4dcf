import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pipelines.core.database import Database, JSONType, TZDateTime, copy_in_csv, local_settings
from pipelines.core.rfc4180 import CsvFormatError
from pipelines.schema import metadata
from pipelines.core.errors import ConfigurationError
from pipelines.migrations import downgrade

SAMPLE = sa.Table(
    "sample_rows",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("payload", JSONType),
    sa.Column("seen_at", TZDateTime),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("token", sa.Uuid),
    sa.Column("ok", sa.Boolean),
)

UTC = dt.timezone.utc


@pytest.fixture
def sample_table(database: Database) -> sa.Table:
    SAMPLE.create(database.engine)
    return SAMPLE


def test_migrations_match_the_table_definitions_on_both_backends(database):
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_migrations_downgrade_to_an_empty_schema(database):
    downgrade(database)
    with database.engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}


def test_bulk_insert_writes_every_type_and_reads_it_back(database, sample_table):
    token = uuid.UUID("12345678-1234-5678-1234-567812345678")
    when = dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rows = [
        {"id": 1, "name": "comma, \"quote\"", "payload": {"a": [1, 2]}, "seen_at": when, "blob": b"\x00\xff",
         "token": token, "ok": True},
        {"id": 2, "name": None, "payload": None, "seen_at": None, "blob": None, "token": None, "ok": None},
        {"id": 3, "name": "", "payload": [], "seen_at": when, "blob": b"", "token": token, "ok": False},
    ]
    with database.begin() as conn:
        assert database.bulk_insert(conn, sample_table, iter(rows)) == 3
    with database.begin() as conn:
        got = [dict(r._mapping) for r in conn.execute(sa.select(sample_table).order_by(sample_table.c.id))]
    assert got[0] == {**rows[0], "seen_at": dt.datetime(2024, 3, 1, 10, 30, tzinfo=UTC)}
    assert got[1] == rows[1]
    assert got[2] == {**rows[2], "seen_at": dt.datetime(2024, 3, 1, 10, 30, tzinfo=UTC)}


def test_bulk_insert_writes_json_scalars_and_nesting_as_json(database, sample_table):
    payloads = ["a string", 7, True, {"nested": {"list": [1, "two", None]}}, ["x"]]
    with database.begin() as conn:
        database.bulk_insert(conn, sample_table, ((i, p) for i, p in enumerate(payloads)), columns=["id", "payload"])
    with database.begin() as conn:
        got = conn.execute(sa.select(sample_table.c.payload).order_by(sample_table.c.id)).scalars().all()
    assert got == ["a string", 7, True, {"nested": {"list": [1, "two", None]}}, ["x"]]


def test_bulk_insert_takes_tuples_with_columns_in_chunks(database, sample_table):
    rows = ((i, f"n{i}") for i in range(1, 2501))
    with database.begin() as conn:
        assert database.bulk_insert(conn, sample_table, rows, columns=["id", "name"], chunk_size=1000) == 2500
        assert conn.scalar(sa.select(sa.func.count()).select_from(sample_table)) == 2500


def test_bulk_insert_of_nothing_is_zero(database, sample_table):
    with database.begin() as conn:
        assert database.bulk_insert(conn, sample_table, []) == 0


def test_a_failing_transaction_writes_nothing(database, sample_table):
    with pytest.raises(RuntimeError, match="boom"):
        with database.begin() as conn:
            database.bulk_insert(conn, sample_table, [{"id": 1, "name": "a"}])
            raise RuntimeError("boom")
    with database.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(sample_table)) == 0


def test_naive_datetimes_are_refused(database, sample_table):
    with pytest.raises(Exception, match="naive datetime 2024-01-01T00:00:00 given"):
        with database.begin() as conn:
            database.bulk_insert(conn, sample_table, [{"id": 1, "seen_at": dt.datetime(2024, 1, 1)}])


def test_stream_reads_in_batches(database, sample_table):
    with database.begin() as conn:
        database.bulk_insert(conn, sample_table, ({"id": i} for i in range(1, 1001)))
    with database.begin() as conn:
        batches = list(database.stream(conn, sa.select(sample_table.c.id).order_by(sample_table.c.id), 300))
    assert [len(b) for b in batches] == [300, 300, 300, 100]
    assert batches[-1][-1].id == 1000


def test_malformed_url_names_the_setting():
    with pytest.raises(ConfigurationError, match=r"^PIPELINES_DATABASE_URL: malformed database URL 'not a url'"):
        Database("not a url")


def test_unsupported_backend_names_the_setting():
    with pytest.raises(ConfigurationError, match=r"PIPELINES_DATABASE_URL: unsupported database 'mysql'"):
        Database("mysql://root@localhost/db")


def test_unreachable_postgres_names_the_setting():
    database = Database("postgresql://nobody@127.0.0.1:1/app")
    with pytest.raises(ConfigurationError, match=r"^PIPELINES_DATABASE_URL: cannot connect to postgresql"):
        database.check()


def test_default_database_is_a_sqlite_file_under_pipelines_home(clean_environment):
    database = Database()
    assert database.dialect == "sqlite"
    assert database.url.database == str(clean_environment.resolve() / "pipelines.db")


def test_in_values_takes_a_list_longer_than_any_parameter_limit(database):
    """70,000 values: past PostgreSQL's 65,535 parameters and SQLite's 32,766."""
    import sqlalchemy as sa

    from pipelines.core.database import in_values

    table = sa.Table("in_values_probe", sa.MetaData(), sa.Column("name", sa.Text, primary_key=True))
    with database.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"name": "study-000007"}, {"name": "study-069999"}, {"name": "other"}])
        wanted = [f"study-{i:06d}" for i in range(70_000)]
        found = conn.execute(sa.select(table.c.name).where(in_values(table.c.name, wanted)).order_by(table.c.name))
        assert found.scalars().all() == ["study-000007", "study-069999"]
        assert conn.execute(sa.select(table.c.name).where(in_values(table.c.name, []))).all() == []


def _csv(*lines: str) -> list[bytes]:
    data = ("\r\n".join(lines) + "\r\n").encode()
    return [data[:7], data[7:]]  # chunk borders fall anywhere


def test_copy_in_csv_lets_postgresql_parse_every_type_null_apart_from_empty(pg_database):
    SAMPLE.create(pg_database.engine)
    with pg_database.begin() as conn:
        loaded = copy_in_csv(conn, SAMPLE, ["id", "name", "payload", "seen_at", "blob", "token", "ok"], _csv(
            "id,name,payload,seen_at,blob,token,ok",
            '1,"","{""a"":[1]}",2024-03-01T07:00:00.000001+00:00,\\x00ff,0f8fad5b-d9cb-469f-a165-70867728950e,true',
            '2,,,,,,',
            '3,"line\r\n\\.\r\n""end""",null,2024-03-01T12:30:00+05:30,"",7c9e6679-7425-40de-944b-e07fc1f90ae7,false',
        ))
    assert loaded == 3
    with pg_database.begin() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(SAMPLE).order_by(SAMPLE.c.id))]
    assert rows == [
        (1, "", {"a": [1]}, dt.datetime(2024, 3, 1, 7, 0, 0, 1, UTC), b"\x00\xff", uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"), True),
        (2, None, None, None, None, None, None),
        (3, 'line\r\n\\.\r\n"end"', None, dt.datetime(2024, 3, 1, 7, 0, tzinfo=UTC), b"", uuid.UUID("7c9e6679-7425-40de-944b-e07fc1f90ae7"), False),
    ]


def test_copy_in_csv_converts_the_columns_it_is_told_to_through_a_staging_table(pg_database):
    SAMPLE.create(pg_database.engine)
    convert = {"name": lambda _text: sa.literal("new", sa.String), "blob": lambda text: sa.func.decode(text, "base64")}
    with pg_database.begin() as conn:
        loaded = copy_in_csv(conn, SAMPLE, ["name", "id", "blob"], _csv("name,id,blob", "old,1,AP8=", 'old,2,""', "old,3,"), convert)
        again = copy_in_csv(conn, SAMPLE, ["name", "id", "blob"], _csv("name,id,blob", "old,4,YQ=="), convert)
    assert (loaded, again) == (3, 1)
    with pg_database.begin() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(SAMPLE.c.id, SAMPLE.c.name, SAMPLE.c.blob).order_by(SAMPLE.c.id))]
        staged = conn.scalar(sa.text("SELECT count(*) FROM pg_class WHERE relname = 'pipelines_csv_stage'"))
    assert rows == [(1, "new", b"\x00\xff"), (2, "new", b""), (3, "new", None), (4, "new", b"a")]
    assert staged == 0


@pytest.mark.parametrize(
    ("lines", "convert", "message"),
    [
        (["id,nom", "1,a"], False, r'^column name mismatch in header line field 2: got "nom", expected "name" \(line 1: "id,nom"\)$'),
        (["id,name", "1,a", "x,b"], False, r'^invalid input syntax for type integer: "x" \(line 3, column id: "x"\)$'),
        (["id,name", "1,a,extra"], True, r'^extra data after last expected column \(line 2: "1,a,extra"\)$'),
        (["id,blob", "1,not*base64"], True, r'^invalid symbol "\*" found while decoding base64 sequence$'),
    ],
)
def test_copy_in_csv_refuses_a_bad_file_in_one_line_and_writes_nothing(pg_database, lines, convert, message):
    SAMPLE.create(pg_database.engine)
    columns = lines[0].split(",")
    columns = ["id", "name"] if columns == ["id", "nom"] else columns
    conversions = {"blob": lambda text: sa.func.decode(text, "base64"), "name": lambda text: text} if convert else None
    with pytest.raises(CsvFormatError, match=message):
        with pg_database.begin() as conn:
            conn.execute(SAMPLE.insert().values(id=99))
            copy_in_csv(conn, SAMPLE, columns, _csv(*lines), conversions)
    with pg_database.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(SAMPLE)) == 0


def test_local_settings_hold_for_the_block_only_and_are_nothing_on_sqlite(database):
    with database.begin() as conn:
        shown = lambda name: conn.exec_driver_sql(f"SHOW {name}").scalar()  # noqa: E731
        if not database.is_postgres:
            with local_settings(conn, work_mem="64MB"):
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            return
        before = (shown("work_mem"), shown("jit"))
        assert before[0] != "64MB"
        with local_settings(conn, work_mem="64MB", jit="off"):
            assert (shown("work_mem"), shown("jit")) == ("64MB", "off")
        assert (shown("work_mem"), shown("jit")) == before
