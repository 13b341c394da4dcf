"""OpenVEX: every corpus document against statements read off the file by hand."""

from __future__ import annotations

import datetime as dt
import json

from pipelines.vex.normalizers import Statement, normalize_document
from pipelines_tests.vex.conftest import normalized

ALPINE = "pkg:oci/alpine@sha256%3A124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126"
LIBS = ("pkg:apk/alpine/libssl3@3.0.8-r3", "pkg:apk/alpine/libcrypto3@3.0.8-r3")
# The document's timestamp 2023-07-17T18:28:47.696004345-06:00, nanoseconds truncated, in UTC.
DOCUMENT_TIME = dt.datetime(2023, 7, 18, 0, 28, 47, 696004, tzinfo=dt.timezone.utc)
REMOVED = "affected functions were removed before packaging"



def test_v0_2_0_gives_five_alpine_statements_with_their_subcomponents():
    result = normalized("openvex/v0.2.0.json")
    assert result.statements == [
        Statement("CVE-2023-1255", ALPINE, "fixed", subcomponents=LIBS),
        Statement("CVE-2023-2650", ALPINE, "fixed", subcomponents=LIBS),
        Statement("CVE-2023-2975", ALPINE, "fixed", subcomponents=LIBS),
        Statement("CVE-2023-3446", ALPINE, "not_affected", "vulnerable_code_not_present", subcomponents=LIBS, impact=REMOVED),
        Statement("CVE-2023-3817", ALPINE, "not_affected", "vulnerable_code_not_present", subcomponents=LIBS, impact=REMOVED),
    ]
    assert result.document_timestamp == DOCUMENT_TIME
    assert result.skipped == []


def test_v020_1_statement_timestamp_wins():
    result = normalized("openvex/v020-1.vex.json")
    assert result.statements == [
        Statement(
            "CVE-9876-54321",
            "pkg:apk/wolfi/bash@1.0.0",
            "under_investigation",
            None,
            None,
            dt.datetime(2022, 12, 22, 21, 36, 43, tzinfo=dt.timezone.utc),
        )
    ]


def test_string_vulnerabilities_products_and_identifiers_are_read():
    document = {
        "@context": "https://openvex.dev/ns",
        "statements": [
            {"vulnerability": "CVE-2022-1", "products": ["pkg:deb/debian/curl@7.0"], "status": "affected",
             "action_statement": "Upgrade to 7.1", "subcomponents": ["pkg:deb/debian/libcurl@7.0"]},
            {"vulnerability": {"@id": "https://nvd.nist.gov/vuln/detail/CVE-2022-2"},
             "products": [{"@id": "https://example.com/product/x", "identifiers": {"cpe23": "cpe:2.3:a:x:x:1:*:*:*:*:*:*:*"}}],
             "status": "not_affected", "justification": "not-a-justification"},
            {"vulnerability": {"name": "CVE-2022-3"}, "products": [], "status": "fixed"},
            {"vulnerability": {"name": "CVE-2022-4"}, "products": [{"@id": "p"}], "status": "unknown"},
        ],
    }
    result = normalize_document(json.dumps(document).encode())
    assert result.statements == [
        Statement("CVE-2022-1", "pkg:deb/debian/curl@7.0", "affected", subcomponents=("pkg:deb/debian/libcurl@7.0",), action="Upgrade to 7.1"),
        Statement("https://nvd.nist.gov/vuln/detail/CVE-2022-2", "cpe:2.3:a:x:x:1:*:*:*:*:*:*:*", "not_affected"),
    ]
    assert result.skipped == [
        "statements[2]: CVE-2022-3 names no product",
        "statements[3]: CVE-2022-4: status 'unknown' is not an OpenVEX status",
    ]
