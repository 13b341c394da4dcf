import datetime as dt
import io

import pytest

from pipelines.core.rfc4180 import CsvFormatError, format_row, read_records, with_first_field, write_rows


def test_format_row_quotes_only_what_needs_it_and_keeps_null_apart_from_empty():
    row = ["plain", "", None, 'say "hi"', "a,b", "line1\nline2", "cr\r", "ünï", 7, True]
    assert format_row(row) == 'plain,"",,"say ""hi""","a,b","line1\nline2","cr\r",ünï,7,true\r\n'


def test_values_are_rendered_as_text():
    when = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert format_row([b"\x00\x01", when, {"b": 1, "a": [1, "x"]}]) == (
        'AAE=,2024-05-01T08:00:00-05:00,"{""a"":[1,""x""],""b"":1}"\r\n'
    )


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive datetime"):
        format_row([dt.datetime(2024, 1, 1)])


def test_round_trip_keeps_null_empty_quotes_and_newlines():
    rows = [["a", None, ""], ['x "q"', "multi\r\nline", ","], [None, None, None], ["", "", ""]]
    buffer = io.StringIO(newline="")
    assert write_rows(buffer, ["c1", "c2", "c3"], rows) == 4
    buffer.seek(0)
    assert list(read_records(buffer)) == [["c1", "c2", "c3"], *rows]


def test_reader_accepts_bare_lf_line_ends():
    assert list(read_records(io.StringIO("a,b\n1,\n", newline=""))) == [["a", "b"], ["1", None]]


def test_reader_reports_an_unclosed_quote_with_its_line():
    with pytest.raises(CsvFormatError, match="line 2: a quoted field is never closed"):
        list(read_records(io.StringIO('a\r\n"open\r\nstill\r\n', newline="")))


def test_reader_reports_a_stray_quote():
    with pytest.raises(CsvFormatError, match="line 1: unexpected"):
        list(read_records(io.StringIO('ab"c",d\r\n', newline="")))


WITH_TENANTS = (
    b'tenant,note\r\nacme,"multi\r\nacme,line ""x""\r\n"\r\nacme,\r\nacme,""\r\nacme,"a\nb"\r\nacme,last'
)


@pytest.mark.parametrize("size", [1, 2, 7, 13, 1024])
def test_with_first_field_renames_every_records_first_field_and_nothing_inside_a_quoted_field(size):
    chunks = [WITH_TENANTS[i : i + size] for i in range(0, len(WITH_TENANTS), size)]
    assert b"".join(with_first_field(chunks, "acme", "acme-2")) == (
        b'tenant,note\r\nacme-2,"multi\r\nacme,line ""x""\r\n"\r\nacme-2,\r\nacme-2,""\r\nacme-2,"a\nb"\r\nacme-2,last'
    )


@pytest.mark.parametrize("size", [1, 5, 1024])
def test_with_first_field_names_the_first_record_of_another_tenant(size):
    data = b"tenant,n\r\nacme,1\r\nacme,2\r\nacmex,3\r\nacme,4\r\n"
    with pytest.raises(CsvFormatError, match=r"^record 4: its first field is not 'acme'$"):
        b"".join(with_first_field([data[i : i + size] for i in range(0, len(data), size)], "acme", "b"))
