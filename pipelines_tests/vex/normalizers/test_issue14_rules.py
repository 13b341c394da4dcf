"""Issue 14's rules, each on a document written for it, with the expected statements written out."""

from __future__ import annotations

import datetime as dt
import json

from pipelines.vex.normalizers import Statement, normalize_document
from pipelines.vex.normalizers import source as source_module

UTC = dt.timezone.utc


def normalize(document: dict):
    result = normalize_document(json.dumps(document).encode())
    assert not hasattr(result, "reason"), result
    return result


OPENVEX_SEQUENCE = {
    "@context": "https://openvex.dev/ns/v0.2.0",
    "@id": "https://example.com/vex/seq",
    "author": "Example PSIRT",
    "timestamp": "2024-04-01T00:00:00Z",
    "last_updated": "2024-04-03T00:00:00Z",
    "statements": [
        {"vulnerability": {"name": "CVE-2024-1", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
         "products": [{"@id": "pkg:npm/a@1.0.0"}], "status": "affected",
         "action_statement": "Upgrade to 1.0.1", "timestamp": "2024-04-01T00:00:00Z"},
        {"vulnerability": {"name": "CVE-2024-1"}, "products": [{"@id": "pkg:npm/a@1.0.0"}],
         "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
         "impact_statement": "The parser is never called.", "timestamp": "2024-04-02T00:00:00Z"},
        # Older than the statement it follows: the earlier one stays.
        {"vulnerability": {"name": "CVE-2024-1"}, "products": [{"@id": "pkg:npm/a@1.0.0"}],
         "status": "under_investigation", "timestamp": "2024-03-01T00:00:00Z"},
    ],
}


def test_openvex_a_later_statement_supersedes_the_earlier_for_the_same_pair():
    result = normalize(OPENVEX_SEQUENCE)
    assert result.statements == [
        Statement("CVE-2024-1", "pkg:npm/a@1.0.0", "not_affected", "vulnerable_code_not_in_execute_path",
                  timestamp=dt.datetime(2024, 4, 2, tzinfo=UTC), impact="The parser is never called."),
    ]
    assert result.document_timestamp == dt.datetime(2024, 4, 3, tzinfo=UTC)
    assert result.skipped == [
        "statements[1].products[0]: supersedes an earlier statement for CVE-2024-1 / pkg:npm/a@1.0.0",
        "statements[2].products[0]: superseded by a later statement for CVE-2024-1 / pkg:npm/a@1.0.0",
    ]


def test_openvex_without_timestamps_the_later_in_the_document_wins():
    document = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "statements": [
        {"vulnerability": {"name": "CVE-1"}, "products": ["p"], "status": "affected"},
        {"vulnerability": {"name": "CVE-1"}, "products": ["p"], "status": "fixed"},
    ]}
    assert normalize(document).statements == [Statement("CVE-1", "p", "fixed")]


def test_openvex_v0_0_1_strings_statement_subcomponents_and_texts():
    document = {
        "@context": "https://openvex.dev/ns",
        "@id": "https://example.com/vex/old",
        "author": "Old Tool",
        "timestamp": "2023-01-08T18:02:03Z",
        "statements": [
            {"vulnerability": "CVE-2023-5", "products": ["pkg:oci/app@sha256%3Aabc"],
             "subcomponents": ["pkg:golang/x/net@0.1"], "status": "affected",
             "action_statement": "Rebuild with x/net 0.2", "status_notes": "seen by the scanner"},
        ],
    }
    result = normalize(document)
    assert result.statements == [
        Statement("CVE-2023-5", "pkg:oci/app@sha256%3Aabc", "affected", None, "seen by the scanner",
                  subcomponents=("pkg:golang/x/net@0.1",), action="Rebuild with x/net 0.2"),
    ]
    assert result.document_timestamp == dt.datetime(2023, 1, 8, 18, 2, 3, tzinfo=UTC)


def test_openvex_aliases_are_kept():
    document = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "statements": [
        {"vulnerability": {"@id": "https://osv.dev/GHSA-1", "name": "GHSA-1", "aliases": ["CVE-2024-9", "CVE-2024-9"]},
         "products": [{"@id": "pkg:pypi/b@2", "subcomponents": [{"@id": "pkg:pypi/c@3"}]}], "status": "fixed"},
    ]}
    assert normalize(document).statements == [
        Statement("GHSA-1", "pkg:pypi/b@2", "fixed", subcomponents=("pkg:pypi/c@3",), aliases=("CVE-2024-9",)),
    ]


CYCLONEDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    "version": 2,
    "metadata": {"timestamp": "2024-05-01T00:00:00Z"},
    "components": [{"bom-ref": "lib/a b", "name": "a", "purl": "pkg:npm/a@1.0.0?foo=bar"}],
    "vulnerabilities": [
        {
            "id": "CVE-2024-7",
            "references": [{"id": "GHSA-7", "source": {"name": "GitHub"}}],
            "recommendation": "Upgrade to 1.2.0",
            "updated": "2024-05-02T00:00:00Z",
            "analysis": {"state": "exploitable", "response": ["update"], "detail": "Reachable from the API."},
            "affects": [
                # A BOM-Link to this very BOM (serial and version), its bom-ref URL-encoded.
                {"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/2#lib%2Fa%20b",
                 "versions": [{"version": "1.0.0", "status": "affected"}, {"range": "vers:npm/>=1.1.0|<1.2.0"},
                              {"version": "1.2.0", "status": "unaffected"}, {"version": "0.9.0", "status": "unknown"}]},
                # Another BOM's component and a ref naming nothing here: kept as written.
                {"ref": "urn:cdx:00000000-0000-0000-0000-000000000001/1#other"},
                {"ref": "not-in-this-bom"},
            ],
        }
    ],
}


def test_cyclonedx_bom_links_versions_ranges_states_and_texts():
    result = normalize(CYCLONEDX)
    at = dt.datetime(2024, 5, 2, tzinfo=UTC)
    texts = {"impact": "Reachable from the API.", "action": "Upgrade to 1.2.0\nresponse: update", "aliases": ("GHSA-7",)}
    assert result.statements == [
        Statement("CVE-2024-7", "pkg:npm/a@1.0.0", "affected", None, None, at, **texts),
        Statement("CVE-2024-7", "pkg:npm/a@vers:npm/>=1.1.0|<1.2.0", "affected", None, None, at, **texts),
        Statement("CVE-2024-7", "pkg:npm/a@1.2.0", "not_affected", None, None, at, **texts),
        Statement("CVE-2024-7", "pkg:npm/a@0.9.0", "under_investigation", None, None, at, **texts),
        Statement("CVE-2024-7", "urn:cdx:00000000-0000-0000-0000-000000000001/1#other", "affected", None, None, at, **texts),
        Statement("CVE-2024-7", "not-in-this-bom", "affected", None, None, at, **texts),
    ]
    assert result.document_timestamp == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert result.skipped == [
        "vulnerabilities[0].affects[1]: ref 'urn:cdx:00000000-0000-0000-0000-000000000001/1#other' is a BOM-Link "
        "to another BOM: kept as the product key as written",
        "vulnerabilities[0].affects[2]: ref 'not-in-this-bom' matches no bom-ref: kept as the product key as written",
    ]


def test_cyclonedx_not_affected_keeps_its_mapped_justification():
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [{"bom-ref": "c", "name": "c", "version": "2"}],
           "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "not_affected", "justification": "requires_dependency",
                                                            "lastUpdated": "2024-01-01T00:00:00Z"},
                                "affects": [{"ref": "c"}]}]}
    assert normalize(bom).statements == [
        Statement("CVE-1", "c@2", "not_affected", "component_not_present", timestamp=dt.datetime(2024, 1, 1, tzinfo=UTC))
    ]


def test_csaf_ids_only_nested_branches_relationships_and_flag_dates():
    document = {
        "document": {"category": "csaf_vex", "csaf_version": "2.0", "publisher": {"name": "Acme PSIRT"},
                     "tracking": {"current_release_date": "2024-06-01T00:00:00Z"}},
        "product_tree": {
            "branches": [{"category": "vendor", "name": "Acme", "branches": [
                {"category": "product_family", "name": "Servers", "branches": [
                    {"category": "product_name", "name": "Gizmo", "branches": [
                        {"category": "product_version", "name": "5.1", "product": {"name": "Gizmo 5.1", "product_id": "G51"}},
                    ]},
                ]},
            ]}],
            "full_product_names": [{"name": "Acme Linux 9", "product_id": "AL9"}],
            "relationships": [{"category": "installed_on", "product_reference": "G51", "relates_to_product_reference": "AL9",
                               "full_product_name": {"name": "Gizmo 5.1 on Acme Linux 9", "product_id": "G51-AL9",
                                                     "product_identification_helper": {"purl": "pkg:rpm/acme/gizmo@5.1?distro=al9"}}}],
        },
        "vulnerabilities": [{
            "ids": [{"system_name": "Acme", "text": "ACME-2024-11"}, {"system_name": "GHSA", "text": "GHSA-11"}],
            "product_status": {"known_not_affected": ["G51-AL9"], "known_affected": ["G51"]},
            "flags": [{"label": "vulnerable_code_not_present", "product_ids": ["G51-AL9"], "date": "2024-05-30T00:00:00Z"}],
            "threats": [{"category": "impact", "details": "Not shipped on Acme Linux.", "product_ids": ["G51-AL9"]}],
            "remediations": [{"category": "vendor_fix", "details": "Update to 5.2", "product_ids": ["G51"]}],
        }],
    }
    result = normalize(document)
    assert result.statements == [
        Statement("ACME-2024-11", "pkg:rpm/acme/gizmo@5.1?distro=al9", "not_affected", "vulnerable_code_not_present",
                  timestamp=dt.datetime(2024, 5, 30, tzinfo=UTC), impact="Not shipped on Acme Linux.", aliases=("GHSA-11",)),
        Statement("ACME-2024-11", "Gizmo@5.1", "affected", action="vendor_fix: Update to 5.2", aliases=("GHSA-11",)),
    ]
    assert result.document_timestamp == dt.datetime(2024, 6, 1, tzinfo=UTC)


def test_a_large_document_streamed_gives_the_same_statements(monkeypatch):
    contents = [json.dumps(document).encode() for document in (OPENVEX_SEQUENCE, CYCLONEDX)]
    whole = [normalize_document(content) for content in contents]
    monkeypatch.setattr(source_module, "STREAM_ABOVE_BYTES", 10)
    assert [normalize_document(content) for content in contents] == whole
    assert normalize_document(b'{"@context": "https://openvex.dev/ns", "statements": {}}').reason == (
        "statements is an object, expected a list"
    )
