"""Each format's vocabulary mapped onto OpenVEX's, one value at a time, the expected value written
out from the specs (CSAF 2.0 product_status and flags, CycloneDX 1.4-1.6 analysis, OpenVEX product
identifiers and statement timestamps)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines.vex.normalizers import Normalized, Statement, normalize_document

UTC = dt.timezone.utc


def normalize(document: dict) -> Normalized:
    result = normalize_document(json.dumps(document).encode())
    assert isinstance(result, Normalized), result
    return result


def csaf(vulnerability: dict) -> dict:
    return {"document": {"category": "csaf_vex", "csaf_version": "2.0"},
            "product_tree": {"full_product_names": [{"name": "Thing 1", "product_id": "T1"},
                                                    {"name": "Thing 2", "product_id": "T2"}]},
            "vulnerabilities": [{"cve": "CVE-2024-5", **vulnerability}]}


@pytest.mark.parametrize(
    ("category", "status"),
    [
        ("known_not_affected", "not_affected"),
        ("known_affected", "affected"),
        ("first_affected", "affected"),
        ("last_affected", "affected"),
        ("fixed", "fixed"),
        ("first_fixed", "fixed"),
        ("under_investigation", "under_investigation"),
    ],
)
def test_csaf_product_status_categories(category, status):
    result = normalize(csaf({"product_status": {category: ["T1"]}}))
    assert result.statements == [Statement("CVE-2024-5", "Thing 1", status)]


def test_csaf_recommended_is_no_status_and_an_unknown_category_is_skipped():
    result = normalize(csaf({"product_status": {"recommended": ["T1"], "known_good": ["T2"]}}))
    assert result.statements == []
    assert result.skipped == ["vulnerabilities[0].product_status.known_good: unknown product_status category 'known_good'"]


def test_csaf_flag_labels_justify_not_affected_products_only():
    result = normalize(csaf({
        "product_status": {"known_not_affected": ["T1"], "known_affected": ["T2"]},
        "flags": [{"label": "not_a_label", "product_ids": ["T1"]},
                  {"label": "inline_mitigations_already_exist", "product_ids": ["T1", "T2"]}],
    }))
    assert result.statements == [
        Statement("CVE-2024-5", "Thing 1", "not_affected", "inline_mitigations_already_exist"),
        Statement("CVE-2024-5", "Thing 2", "affected"),
    ]


def cyclonedx(analysis: dict) -> dict:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6",
            "components": [{"bom-ref": "c", "name": "c", "version": "1"}],
            "vulnerabilities": [{"id": "CVE-2024-6", "analysis": analysis, "affects": [{"ref": "c"}]}]}


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("in_triage", "under_investigation"),
        ("resolved", "fixed"),
        ("resolved_with_pedigree", "fixed"),
        ("exploitable", "affected"),
        ("false_positive", "not_affected"),
        ("not_affected", "not_affected"),
    ],
)
def test_cyclonedx_analysis_states(state, status):
    assert normalize(cyclonedx({"state": state})).statements == [Statement("CVE-2024-6", "c@1", status)]


@pytest.mark.parametrize(
    ("justification", "expected"),
    [
        ("code_not_present", "vulnerable_code_not_present"),
        ("code_not_reachable", "vulnerable_code_not_in_execute_path"),
        ("requires_configuration", "vulnerable_code_cannot_be_controlled_by_adversary"),
        ("requires_dependency", "component_not_present"),
        ("requires_environment", "vulnerable_code_cannot_be_controlled_by_adversary"),
        ("protected_by_compiler", "inline_mitigations_already_exist"),
        ("protected_at_runtime", "inline_mitigations_already_exist"),
        ("protected_at_perimeter", "inline_mitigations_already_exist"),
        ("protected_by_mitigating_control", "inline_mitigations_already_exist"),
        ("not_a_justification", None),
    ],
)
def test_cyclonedx_justifications(justification, expected):
    result = normalize(cyclonedx({"state": "not_affected", "justification": justification}))
    assert result.statements == [Statement("CVE-2024-6", "c@1", "not_affected", expected)]


def test_cyclonedx_a_justification_of_an_exploitable_state_is_dropped_and_responses_are_the_action():
    result = normalize(cyclonedx({"state": "exploitable", "justification": "code_not_present",
                                  "response": ["can_not_fix", "rollback", "update", "will_not_fix", "workaround_available"]}))
    assert result.statements == [
        Statement("CVE-2024-6", "c@1", "affected",
                  action="response: can_not_fix, rollback, update, will_not_fix, workaround_available"),
    ]


@pytest.mark.parametrize(
    ("product", "key"),
    [
        ({"@id": "https://example.com/p", "identifiers": {"purl": "pkg:npm/p@1", "cpe23": "cpe:2.3:a:x:p:1:*:*:*:*:*:*:*"}},
         "pkg:npm/p@1"),
        ({"@id": "pkg:npm/p@2", "identifiers": {"cpe23": "cpe:2.3:a:x:p:2:*:*:*:*:*:*:*"}}, "pkg:npm/p@2"),
        ({"@id": "https://example.com/p", "identifiers": {"cpe23": "cpe:2.3:a:x:p:3:*:*:*:*:*:*:*", "cpe22": "cpe:/a:x:p:3"}},
         "cpe:2.3:a:x:p:3:*:*:*:*:*:*:*"),
        ({"@id": "https://example.com/p", "identifiers": {"cpe22": "cpe:/a:x:p:4"}}, "cpe:/a:x:p:4"),
        ({"@id": "https://example.com/p", "hashes": {"sha-256": "ab"}}, "https://example.com/p"),
        ("pkg:npm/p@6", "pkg:npm/p@6"),
    ],
    ids=["purl", "purl-id", "cpe23", "cpe22", "id", "string"],
)
def test_openvex_product_identifiers_in_order_of_preference(product, key):
    document = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x",
                "statements": [{"vulnerability": {"name": "CVE-2024-7"}, "products": [product], "status": "fixed"}]}
    assert normalize(document).statements == [Statement("CVE-2024-7", key, "fixed")]


@pytest.mark.parametrize(
    "justification",
    ["component_not_present", "vulnerable_code_not_present", "vulnerable_code_not_in_execute_path",
     "vulnerable_code_cannot_be_controlled_by_adversary", "inline_mitigations_already_exist"],
)
def test_openvex_justifications_are_kept_as_they_are(justification):
    document = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "statements": [
        {"vulnerability": {"name": "CVE-2024-8"}, "products": ["p"], "status": "not_affected", "justification": justification}]}
    assert normalize(document).statements == [Statement("CVE-2024-8", "p", "not_affected", justification)]


def test_openvex_a_statement_without_timestamp_takes_its_own_last_updated():
    document = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "timestamp": "2024-01-01T00:00:00Z",
                "statements": [{"vulnerability": {"name": "CVE-2024-9"}, "products": ["p"], "status": "fixed",
                                "last_updated": "2024-02-03T04:05:06+01:00"}]}
    result = normalize(document)
    assert result.statements == [Statement("CVE-2024-9", "p", "fixed", timestamp=dt.datetime(2024, 2, 3, 3, 5, 6, tzinfo=UTC))]
    assert result.document_timestamp == dt.datetime(2024, 1, 1, tzinfo=UTC)
