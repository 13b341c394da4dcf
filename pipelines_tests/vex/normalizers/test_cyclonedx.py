"""CycloneDX 1.4 VEX: every corpus document against statements read off the file by hand."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines.vex.normalizers import Statement, normalize_document
from pipelines_tests.vex.conftest import normalized

JAN_13 = dt.datetime(2022, 1, 13, tzinfo=dt.timezone.utc)  # metadata.timestamp
CVE = "CVE-2020-25649"
UNREACHABLE = (
    "Automated dataflow analysis and manual code review indicates that the vulnerable code is not reachable, "
    "either directly or indirectly."
)
NOT_IN_PATH = "vulnerable_code_not_in_execute_path"  # from code_not_reachable
RESPONSE = "response: will_not_fix, update"  # analysis.response



@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("use-case-1.vex.json", [Statement(CVE, "Acme Product@2.4.0", "not_affected", NOT_IN_PATH, impact=UNREACHABLE, action=RESPONSE)]),
        (
            "use-case-2.vex.json",
            [
                Statement(
                    CVE,
                    "Acme Product@2.4.0",
                    "affected",
                    None,
                    impact="This version of Acme Product is affected by the vulnerability. "
                    "Customers are advised to upgrade to the latest release.",
                    action=RESPONSE,
                )
            ],
        ),
        ("use-case-3.vex.json", [Statement(CVE, "Acme Product@2.4.0", "under_investigation")]),
        (
            "use-case-4.vex.json",
            [Statement(CVE, "Acme Product@vers:semver/>=2.2.0|<=2.4.0", "not_affected", NOT_IN_PATH, impact=UNREACHABLE, action=RESPONSE)],
        ),
        (
            "use-case-5.vex.json",
            [
                Statement(CVE, "Acme Product@vers:semver/<7.0.0|>=1.5.0", "affected"),
                Statement(CVE, "Acme Product@vers:semver/<1.5.0|>=7.0.0", "not_affected", NOT_IN_PATH, impact=UNREACHABLE, action=RESPONSE),
            ],
        ),
        (
            # BOM-Links into other BOMs are kept as written; the document has no metadata timestamp.
            "use-case-6.vex.json",
            [
                Statement(CVE, "urn:cdx:2c385cf7-e1ee-46e9-a51c-13de1ecb380a/1#acme-product-1", "not_affected", NOT_IN_PATH, impact=UNREACHABLE, action=RESPONSE),
                Statement(CVE, "urn:cdx:6ffac0b2-5246-4fb9-a6fe-7993041856a0/1#acme-product-2", "not_affected", NOT_IN_PATH, impact=UNREACHABLE, action=RESPONSE),
                Statement(CVE, "urn:cdx:240b5b0b-917d-4f48-816c-97e1944d8079/1#acme-product-3", "not_affected", NOT_IN_PATH, impact=UNREACHABLE, action=RESPONSE),
            ],
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_use_case_documents_give_their_statements(relative, expected):
    result = normalized(f"cyclonedx/{relative}")
    assert result.statements == expected
    assert result.document_timestamp == (None if relative == "use-case-6.vex.json" else JAN_13)


def test_use_case_7_names_no_product_so_its_statement_is_skipped():
    result = normalized("cyclonedx/use-case-7.vex.json")
    assert result.statements == []
    assert result.skipped == ["vulnerabilities[0]: CVE-2020-25649 affects no product"]


def test_nested_components_purls_and_every_state_map_to_openvex():
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {"component": {"bom-ref": "app", "name": "app", "version": "1"}},
        "components": [
            {"bom-ref": "lib", "name": "lib", "purl": "pkg:maven/org.example/lib@2.0",
             "components": [{"bom-ref": "inner", "name": "inner", "cpe": "cpe:2.3:a:example:inner:3:*:*:*:*:*:*:*"}]}
        ],
        "vulnerabilities": [
            {"id": "CVE-1", "analysis": {"state": "resolved", "lastUpdated": "2024-05-01T10:00:00+02:00"}, "affects": [{"ref": "lib"}]},
            {"id": "CVE-2", "analysis": {"state": "false_positive", "justification": "requires_environment"}, "affects": [{"ref": "inner"}]},
            {"id": "CVE-3", "analysis": {"state": "resolved_with_pedigree"}, "affects": [{"ref": "app"}]},
            {"id": "CVE-4", "analysis": {"state": "exploitable"}, "affects": [{"ref": "ghost"}]},
            {"analysis": {"state": "exploitable"}, "affects": [{"ref": "app"}]},
            {"id": "CVE-6", "analysis": {"state": "maybe"}, "affects": [{"ref": "app"}]},
        ],
    }
    result = normalize_document(json.dumps(bom).encode())
    assert result.statements == [
        Statement("CVE-1", "pkg:maven/org.example/lib@2.0", "fixed", None, None, dt.datetime(2024, 5, 1, 8, tzinfo=dt.timezone.utc)),
        Statement("CVE-2", "cpe:2.3:a:example:inner:3:*:*:*:*:*:*:*", "not_affected",
                  "vulnerable_code_cannot_be_controlled_by_adversary", None, None),
        Statement("CVE-3", "app@1", "fixed", None, None, None),
        Statement("CVE-4", "ghost", "affected"),
    ]
    assert result.skipped == [
        "vulnerabilities[3].affects[0]: ref 'ghost' matches no bom-ref: kept as the product key as written",
        "vulnerabilities[4]: no vulnerability id",
        "vulnerabilities[5]: CVE-6: analysis.state 'maybe' is not a VEX state",
    ]
