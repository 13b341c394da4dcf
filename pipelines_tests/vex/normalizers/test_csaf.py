"""CSAF 2.0 VEX: every corpus document against statements read off the file by hand."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines.vex.normalizers import NormalizeFailure, Statement, normalize_document
from pipelines_tests.vex.conftest import normalized

RELEASED = dt.datetime(2022, 3, 3, 11, 0, tzinfo=dt.timezone.utc)  # tracking.current_release_date
LOG4SHELL = "CVE-2021-44228"
TRECK_LINUX = "Linux TCP/IP used and therefore not vulnerable."
IPV6 = "IPv6 is not supported and code is not present."
REWRITTEN = "This code was re-written. The vulnerable code is not present."
UPSTREAM = "none_available: We are working to integrate the upstream patches in our code."


def statement(
    vulnerability: str, product: str, status: str, impact: str | None = None, action: str | None = None
) -> Statement:
    """The corpus documents date no flag: statements carry no timestamp of their own (the document's
    is `RELEASED`)."""
    return Statement(vulnerability, product, status, impact=impact, action=action)



@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (
            "2022-evd-uc-01-a-001.json",
            [
                statement(
                    LOG4SHELL,
                    "DEF@1.0",
                    "affected",
                    action="vendor_fix: Customers should update to version 1.1 of product DEF which fixes the issue.",
                )
            ],
        ),
        ("2022-evd-uc-01-f-001.json", [statement(LOG4SHELL, "DEF@1.1", "fixed")]),
        (
            "2022-evd-uc-01-na-001.json",
            [statement(LOG4SHELL, "ABC@4.2", "not_affected", "Class with vulnerable code was removed before shipping.")],
        ),
        ("2022-evd-uc-01-ui-001.json", [statement(LOG4SHELL, "GHI@17.4", "under_investigation")]),
        (
            "2022-evd-uc-04-001.json",
            [
                statement(LOG4SHELL, "ABC@2.4", "affected", action="vendor_fix: Update to version 4.2 or later."),
                statement(LOG4SHELL, "ABC@2.6", "affected", action="vendor_fix: Update to version 4.2 or later."),
                statement(LOG4SHELL, "ABC@vers:generic/>=2.9|<=4.1", "affected", action="vendor_fix: Update to version 4.2 or later."),
            ],
        ),
        ("2022-evd-uc-05-001.json", [statement(LOG4SHELL, "XYZ@vers:all/*", "under_investigation")]),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_use_case_documents_give_one_statement_per_product(relative, expected):
    result = normalized(f"csaf/{relative}")
    assert result.statements == expected
    assert result.document_timestamp == RELEASED
    assert result.skipped == []


def test_use_case_2_gives_nineteen_treck_cves_not_affected_for_abc_4_2():
    # CVE-2020-11896 ... CVE-2020-11914, each known_not_affected with the same impact threat.
    expected = [
        statement("CVE-2020-11896", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11897", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11898", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11899", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11900", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11901", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11902", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11903", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11904", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11905", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11906", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11907", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11908", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11909", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11910", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11911", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11912", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11913", "ABC@4.2", "not_affected", TRECK_LINUX),
        statement("CVE-2020-11914", "ABC@4.2", "not_affected", TRECK_LINUX),
    ]
    assert normalized("csaf/2022-evd-uc-02-na-001.json").statements == expected


def test_use_case_3_mixes_every_status_for_ghi_17_4():
    expected = [
        statement("CVE-2020-11896", "GHI@17.4", "under_investigation"),
        statement("CVE-2020-11897", "GHI@17.4", "not_affected", IPV6),
        statement("CVE-2020-11898", "GHI@17.4", "affected", action=UPSTREAM),
        statement("CVE-2020-11899", "GHI@17.4", "not_affected", IPV6),
        statement("CVE-2020-11900", "GHI@17.4", "under_investigation"),
        statement("CVE-2020-11901", "GHI@17.4", "fixed"),
        statement("CVE-2020-11902", "GHI@17.4", "not_affected", IPV6),
        statement("CVE-2020-11903", "GHI@17.4", "under_investigation"),
        statement("CVE-2020-11904", "GHI@17.4", "under_investigation"),
        statement("CVE-2020-11905", "GHI@17.4", "not_affected", IPV6),
        statement("CVE-2020-11906", "GHI@17.4", "not_affected", REWRITTEN),
        statement("CVE-2020-11907", "GHI@17.4", "affected", action=UPSTREAM),
        statement("CVE-2020-11908", "GHI@17.4", "under_investigation"),
        statement("CVE-2020-11909", "GHI@17.4", "affected", action=UPSTREAM),
        statement("CVE-2020-11910", "GHI@17.4", "affected", action=UPSTREAM),
        statement("CVE-2020-11911", "GHI@17.4", "affected", action=UPSTREAM),
        statement("CVE-2020-11912", "GHI@17.4", "fixed"),
        statement("CVE-2020-11913", "GHI@17.4", "not_affected", IPV6),
        statement("CVE-2020-11914", "GHI@17.4", "fixed"),
    ]
    result = normalized("csaf/2022-evd-uc-03-ms-001.json")
    assert result.statements == expected
    assert result.skipped == []


def _document(product_tree: dict, vulnerabilities: list) -> bytes:
    return json.dumps(
        {
            "document": {"category": "csaf_vex", "csaf_version": "2.0", "tracking": {"current_release_date": "2024-01-02T03:04:05Z"}},
            "product_tree": product_tree,
            "vulnerabilities": vulnerabilities,
        }
    ).encode()


def test_purl_helpers_relationships_groups_and_flags_are_resolved():
    tree = {
        "branches": [
            {
                "category": "vendor",
                "name": "Acme",
                "branches": [
                    {
                        "category": "product_name",
                        "name": "widget",
                        "branches": [
                            {
                                "category": "product_version",
                                "name": "3.1",
                                "product": {
                                    "name": "Acme widget 3.1",
                                    "product_id": "W31",
                                    "product_identification_helper": {"purl": "pkg:generic/acme/widget@3.1"},
                                },
                            }
                        ],
                    }
                ],
            }
        ],
        "full_product_names": [
            {"name": "Acme OS 9", "product_id": "OS9", "product_identification_helper": {"cpe": "cpe:2.3:o:acme:os:9:*:*:*:*:*:*:*"}}
        ],
        "relationships": [
            {
                "category": "installed_on",
                "product_reference": "W31",
                "relates_to_product_reference": "OS9",
                "full_product_name": {"name": "Acme widget 3.1 on Acme OS 9", "product_id": "W31-OS9"},
            }
        ],
        "product_groups": [{"group_id": "ALL", "product_ids": ["W31", "OS9", "W31-OS9"]}],
    }
    vulnerabilities = [
        {
            "ids": [{"system_name": "Acme", "text": "ACME-2024-7"}],
            "product_status": {"known_not_affected": ["W31", "OS9", "W31-OS9"], "recommended": ["W31"]},
            "flags": [
                {"label": "vulnerable_code_not_in_execute_path", "group_ids": ["ALL"]},
                {"label": "component_not_present", "product_ids": ["OS9"]},
            ],
        }
    ]
    at = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    result = normalize_document(_document(tree, vulnerabilities))
    assert result.document_timestamp == at
    assert result.statements == [
        Statement("ACME-2024-7", "pkg:generic/acme/widget@3.1", "not_affected", "vulnerable_code_not_in_execute_path"),
        Statement("ACME-2024-7", "cpe:2.3:o:acme:os:9:*:*:*:*:*:*:*", "not_affected", "vulnerable_code_not_in_execute_path"),
        Statement("ACME-2024-7", "Acme widget 3.1 on Acme OS 9", "not_affected", "vulnerable_code_not_in_execute_path"),
    ]


def test_unresolved_product_ids_and_missing_ids_are_skipped_with_reasons():
    tree = {"full_product_names": [{"name": "Thing 1", "product_id": "T1"}]}
    vulnerabilities = [
        {"cve": "CVE-2024-0001", "product_status": {"known_affected": ["T1", "NOPE"]}},
        {"notes": [], "product_status": {"fixed": ["T1"]}},
    ]
    result = normalize_document(_document(tree, vulnerabilities))
    assert [s.key for s in result.statements] == [("CVE-2024-0001", "Thing 1")]
    assert result.skipped == [
        "vulnerabilities[0].product_status.known_affected[1]: product id 'NOPE' does not resolve in product_tree",
        "vulnerabilities[1]: no vulnerability id (neither cve nor ids[].text)",
    ]


def test_a_csaf_document_without_vulnerabilities_list_fails_as_a_whole():
    content = json.dumps({"document": {"csaf_version": "2.0"}, "vulnerabilities": {"cve": "x"}}).encode()
    assert normalize_document(content) == NormalizeFailure("vulnerabilities is an object, expected a list", None)
