"""The streamed reading of large documents (`normalizers.source`): members pruned to what the
normalizer reads, list items one at a time, and the same statements as the whole document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.vex.normalizers import Normalized, Statement, csaf, normalize_document
from pipelines.vex.normalizers import source as source_module
from pipelines.vex.normalizers.source import load
from pipelines_tests.vex.conftest import corpus_bytes, corpus_files

DATA = Path(__file__).resolve().parents[1] / "data"

TREE = {
    "branches": [{
        "category": "vendor", "name": "V", "x-extra": {"deep": [1, 2, 3]},
        "branches": [{
            "category": "product_name", "name": "P",
            "branches": [{
                "category": "product_version", "name": "1.0",
                "product": {"name": "P 1.0", "product_id": "P1", "x-note": "dropped",
                            "product_identification_helper": {"purl": "pkg:generic/p@1.0", "hashes": [{"x": 1}]}},
            }],
        }],
    }],
    "full_product_names": {"not": "a list"},
    "relationships": [{"category": "default_component_of", "product_reference": "P1",
                       "relates_to_product_reference": "OS", "full_product_name": ["not", "an", "object"]}],
    "product_groups": [{"group_id": "G", "product_ids": ["P1"], "summary": "dropped"}],
}


def streamed(document: dict, monkeypatch) -> source_module.Source:
    monkeypatch.setattr(source_module, "STREAM_ABOVE_BYTES", 0)
    return load(json.dumps(document).encode(), csaf.LISTS, csaf.PRUNED)


def test_a_streamed_member_is_built_with_only_the_fields_its_schema_names(monkeypatch):
    source = streamed({"vulnerabilities": [], "product_tree": TREE, "document": {"csaf_version": "2.0"}}, monkeypatch)
    assert source.get("product_tree") == {
        "branches": [{
            "category": "vendor", "name": "V",
            "branches": [{
                "category": "product_name", "name": "P",
                "branches": [{
                    "category": "product_version", "name": "1.0",
                    "product": {"name": "P 1.0", "product_id": "P1",
                                "product_identification_helper": {"purl": "pkg:generic/p@1.0"}},
                }],
            }],
        }],
        # Another kind than the schema expects: an empty value of that kind, as the normalizer would see it.
        "full_product_names": {},
        "relationships": [{"full_product_name": []}],
        "product_groups": [{"group_id": "G", "product_ids": ["P1"]}],
    }
    assert source.get("document") == {"csaf_version": "2.0"}
    assert source.get("vulnerabilities") is None  # left to items()


def test_streamed_list_items_are_pruned_and_name_each_product_id_with_one_string(monkeypatch):
    vulnerability = {
        "cve": "CVE-1", "notes": [{"text": "dropped"}], "scores": [{"products": ["P1"]}],
        "product_status": {"known_affected": ["P1"]},
        "remediations": [{"category": "vendor_fix", "details": "Update", "product_ids": ["P1"], "url": "dropped"}],
    }
    source = streamed({"vulnerabilities": [vulnerability, "not an object"], "document": {}}, monkeypatch)
    items = list(source.items("vulnerabilities", csaf.VULNERABILITY))
    assert items == [
        {"cve": "CVE-1", "product_status": {"known_affected": ["P1"]},
         "remediations": [{"category": "vendor_fix", "details": "Update", "product_ids": ["P1"]}]},
        "not an object",
    ]
    assert items[0]["product_status"]["known_affected"][0] is items[0]["remediations"][0]["product_ids"][0]


@pytest.mark.parametrize("tree_first", [True, False], ids=["tree-first", "tree-last"])
def test_csaf_product_tree_before_or_after_the_vulnerabilities_streams_the_same(monkeypatch, tree_first):
    vulnerabilities = [{"cve": "CVE-2", "product_status": {"fixed": ["P1"], "known_affected": ["G-only"]},
                        "remediations": [{"category": "vendor_fix", "details": "Update to 1.1", "group_ids": ["G"]}]}]
    members = [("product_tree", TREE), ("vulnerabilities", vulnerabilities),
               ("document", {"csaf_version": "2.0", "publisher": {"name": "X"}})]
    document = dict(members if tree_first else members[::-1])
    content = json.dumps(document).encode()
    whole = normalize_document(content)
    monkeypatch.setattr(source_module, "STREAM_ABOVE_BYTES", 0)
    assert normalize_document(content) == whole
    assert whole.statements == [Statement("CVE-2", "pkg:generic/p@1.0", "fixed", action="vendor_fix: Update to 1.1")]
    assert whole.skipped == [
        "product_tree.relationships[0]: product is not an object",
        "vulnerabilities[0].product_status.known_affected[0]: product id 'G-only' does not resolve in product_tree",
    ]


def documents() -> list[tuple[str, bytes]]:
    shared = [(f"corpus/{name}", corpus_bytes(name)) for name in corpus_files()]
    own = [(f"data/{p.relative_to(DATA).as_posix()}", p.read_bytes()) for p in sorted(DATA.rglob("*.json"))]
    return shared + own


@pytest.mark.parametrize(("name", "content"), documents(), ids=[name for name, _ in documents()])
def test_every_corpus_and_test_document_streams_to_the_same_result(monkeypatch, name, content):
    whole = normalize_document(content)
    assert isinstance(whole, Normalized), whole
    monkeypatch.setattr(source_module, "STREAM_ABOVE_BYTES", 0)
    assert normalize_document(content) == whole
