"""Landing raw documents: exact bytes and digests, de-dup, the inbox emptied, signatures kept."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from pipelines.vex.errors import VexError
from pipelines.vex.ingest import digest_of, land_inbox, land_paths, raw_document
from pipelines.vex.tables import vex_raw_documents
from pipelines_tests.vex.conftest import at, corpus_bytes


def raw_rows(database) -> dict[str, sa.Row]:
    with database.begin() as conn:
        return {row.digest: row for row in conn.execute(sa.select(vex_raw_documents))}


def test_digest_is_sha256_of_the_exact_bytes():
    content = corpus_bytes("openvex/v020-1.vex.json")
    assert digest_of(content) == "sha256:" + hashlib.sha256(content).hexdigest()
    assert digest_of(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_the_inbox_is_landed_once_and_moved_out(database, object_store):
    csaf = corpus_bytes("csaf/2022-evd-uc-01-a-001.json")
    openvex = corpus_bytes("openvex/v020-1.vex.json")
    object_store.put_bytes("vex/inbox/a/csaf.json", csaf)
    object_store.put_bytes("vex/inbox/a/csaf.json.signature.json", b'{"keyid": "k1", "sig": "MEUC"}')
    object_store.put_bytes("vex/inbox/b/openvex.json", openvex)
    object_store.put_bytes("vex/inbox/b/again.json", openvex)
    object_store.put_bytes("vex/inbox/c/notes.txt", b"not a VEX document")

    summary = land_inbox(database, object_store, now=at(5))
    assert (summary.landed, summary.duplicates, summary.unrecognized) == (3, 1, 1)
    assert [info.key for info in object_store.list("vex/inbox/")] == []
    assert [info.key for info in object_store.list("vex/landed/")] == [
        "vex/landed/a/csaf.json",
        "vex/landed/a/csaf.json.signature.json",
        "vex/landed/b/again.json",
        "vex/landed/b/openvex.json",
        "vex/landed/c/notes.txt",
    ]
    rows = raw_rows(database)
    assert set(rows) == {digest_of(csaf), digest_of(openvex), digest_of(b"not a VEX document")}
    landed = rows[digest_of(csaf)]
    assert (landed.format, landed.provider, bytes(landed.content), landed.retrieved_at) == (
        "csaf", "Example Company ProductCERT", csaf, at(5)
    )
    assert landed.signature == {"keyid": "k1", "sig": "MEUC"}
    assert landed.source_uri.endswith("vex/inbox/a/csaf.json")
    assert (rows[digest_of(openvex)].format, rows[digest_of(openvex)].provider) == ("openvex", "John Doe")
    assert (rows[digest_of(b"not a VEX document")].format, rows[digest_of(b"not a VEX document")].provider) == (
        None, "unknown"
    )

    again = land_inbox(database, object_store, now=at(6))
    assert (again.landed, again.duplicates) == (0, 0)


def test_a_document_dropped_twice_is_landed_once(database, local_store):
    content = corpus_bytes("cyclonedx/use-case-1.vex.json")
    local_store.put_bytes("vex/inbox/one.json", content)
    land_inbox(database, local_store, now=at(1))
    local_store.put_bytes("vex/inbox/one.json", content)
    summary = land_inbox(database, local_store, now=at(2))
    assert (summary.landed, summary.duplicates) == (0, 1)
    assert [row.retrieved_at for row in raw_rows(database).values()] == [at(1)]


def test_local_paths_land_the_whole_corpus_with_a_given_provider(database, corpus):
    summary = land_paths(database, [corpus / "csaf", corpus / "openvex" / "v0.2.0.json"], provider="OASIS", now=at(2))
    assert (summary.landed, summary.duplicates) == (9, 0)
    assert {row.provider for row in raw_rows(database).values()} == {"OASIS"}
    assert land_paths(database, [corpus], now=at(3)).landed == 8


def test_a_missing_path_is_refused_before_anything_is_written(database, corpus, tmp_path):
    with pytest.raises(VexError, match=r"paths: '.*nowhere' is neither a file nor a folder"):
        land_paths(database, [corpus / "csaf", tmp_path / "nowhere"])
    assert raw_rows(database) == {}


def test_an_unknown_format_is_refused():
    with pytest.raises(VexError, match="format: 'spdx' is not one of csaf, cyclonedx, openvex"):
        raw_document(b"{}", "test://x", at(1), format="spdx")


@pytest.mark.parametrize("sidecar", [b'{"sig": "abc\\u0000def"}', b'{"sig": "\\ud800"}'], ids=["nul", "lone-surrogate"])
def test_a_sidecar_json_columns_cannot_store_refuses_the_landing_and_writes_nothing(database, tmp_path, sidecar):
    good, bad = tmp_path / "a.json", tmp_path / "b.json"
    good.write_bytes(corpus_bytes("openvex/v020-1.vex.json"))
    bad.write_bytes(corpus_bytes("openvex/v0.2.0.json"))
    (tmp_path / "b.json.signature.json").write_bytes(sidecar)
    with pytest.raises(VexError) as raised:
        land_paths(database, [tmp_path])
    assert str(raised.value) == (
        f"signature of '{bad}': .signature.json sidecar holds a \\u0000 or a lone surrogate, which JSON columns cannot store"
    )
    assert raw_rows(database) == {}


def test_a_prefix_outside_the_store_is_refused_before_any_file_is_opened(monkeypatch):
    import builtins

    from pipelines.vex.requests import LandingRequest

    opened: list = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    for prefix in ("/etc/", "../../etc/", "vex/../../../etc/"):
        with pytest.raises(VexError, match=f"prefix: '{prefix}': is not a relative object-store prefix"):
            LandingRequest.parse({"prefix": prefix})
    assert opened == []


def test_a_provider_that_is_not_utf8_is_one_line(database, monkeypatch, capsys, tmp_path):
    from pipelines.cli import main

    monkeypatch.setenv("PIPELINES_DATABASE_URL", database.url.render_as_string(hide_password=False))
    path = tmp_path / "a.json"
    path.write_bytes(corpus_bytes("openvex/v020-1.vex.json"))
    # What the shell hands Python for the bytes b"Bad\xff": a lone surrogate (surrogateescape).
    assert main(["vex", "ingest", str(path), "--provider", "Bad\udcff"]) == 2
    assert capsys.readouterr().err.strip() == "error: provider: 'Bad\\udcff': is not valid UTF-8 text"
    assert raw_rows(database) == {}
