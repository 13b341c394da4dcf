"""Fixtures of the vex tests: the shared corpus of real VEX documents, raw documents in the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.core.database import Database
from pipelines.vex.ingest import RawDocument, land, raw_document
from pipelines.vex.normalizers import Normalized, normalize_document
from pipelines_tests.support.corpus import corpus_bytes, corpus_dir

UTC = dt.timezone.utc


def normalized(relative: str) -> Normalized:
    """A corpus document (`<format>/<file>`) normalized, checked to be of its folder's format."""
    result = normalize_document(corpus_bytes(relative))
    assert isinstance(result, Normalized), result
    assert result.format == relative.split("/")[0]
    return result


def corpus_files() -> list[str]:
    root = corpus_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))


@pytest.fixture
def corpus() -> Path:
    return corpus_dir()


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """A retrieved_at in March 2024."""
    return dt.datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def openvex_document(number: int, status: str = "not_affected") -> bytes:
    """A small OpenVEX document with two statements, distinct per `number`."""
    return (
        '{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/%d", "author": "Tests",'
        ' "timestamp": "2024-03-01T00:00:00Z", "statements": ['
        '{"vulnerability": {"name": "CVE-2024-%04d"}, "products": [{"@id": "pkg:npm/a@1.0.%d"}], "status": "%s"'
        '%s},'
        '{"vulnerability": {"name": "CVE-2024-%04d"}, "products": [{"@id": "pkg:npm/b@2.0.%d"}], "status": "fixed"}]}'
        % (
            number,
            number,
            number,
            status,
            ', "justification": "component_not_present"' if status == "not_affected" else "",
            number,
            number,
        )
    ).encode()


def store_documents(database: Database, documents: list[tuple[bytes, dt.datetime]]) -> list[RawDocument]:
    raws = [raw_document(content, f"test://{i}", when) for i, (content, when) in enumerate(documents)]
    land(database, raws)
    return raws
