"""Sample VEX documents in the shapes of the public corpus (CSAF use cases, CycloneDX VEX use cases,
OpenVEX v0.2.0), for the demo: deterministic for a given random generator."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

_CSAF_STATUSES = ("known_not_affected", "known_affected", "fixed", "under_investigation")
_CDX_STATES = ("not_affected", "exploitable", "in_triage", "resolved", "false_positive")
_OPENVEX_STATUSES = ("not_affected", "affected", "fixed", "under_investigation")


def sample_documents(rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    """`count` (name, bytes) documents cycling through CSAF, CycloneDX and OpenVEX."""
    makers = (_csaf, _cyclonedx, _openvex)
    for number in range(count):
        name, document = makers[number % 3](rng, number)
        yield name, json.dumps(document, indent=2).encode()


def _cves(rng: random.Random, count: int) -> list[str]:
    return [f"CVE-{rng.randint(2019, 2025)}-{rng.randint(1000, 99999)}" for _ in range(count)]


def _csaf(rng: random.Random, number: int) -> tuple[str, dict[str, Any]]:
    product, version = rng.choice(("ABC", "DEF", "GHI")), f"{rng.randint(1, 9)}.{rng.randint(0, 9)}"
    vulnerabilities = []
    for cve in dict.fromkeys(_cves(rng, rng.randint(1, 6))):
        status = rng.choice(_CSAF_STATUSES)
        vulnerability: dict[str, Any] = {"cve": cve, "product_status": {status: ["CSAFPID-0001"]}}
        if status == "known_not_affected":
            vulnerability["threats"] = [
                {"category": "impact", "details": "Vulnerable code not shipped.", "product_ids": ["CSAFPID-0001"]}
            ]
            vulnerability["flags"] = [{"label": "vulnerable_code_not_present", "product_ids": ["CSAFPID-0001"]}]
        vulnerabilities.append(vulnerability)
    return f"csaf-{number:05d}.json", {
        "document": {
            "category": "csaf_vex",
            "csaf_version": "2.0",
            "publisher": {"category": "vendor", "name": "Example Company ProductCERT", "namespace": "https://psirt.example.com"},
            "title": f"Example VEX document {number}",
            "tracking": {
                "id": f"DEMO-{number:05d}",
                "current_release_date": "2024-03-01T11:00:00.000Z",
                "initial_release_date": "2024-03-01T11:00:00.000Z",
                "revision_history": [{"date": "2024-03-01T11:00:00.000Z", "number": "1", "summary": "Initial version."}],
                "status": "final",
                "version": "1",
            },
        },
        "product_tree": {
            "branches": [
                {
                    "category": "vendor",
                    "name": "Example Company",
                    "branches": [
                        {
                            "category": "product_name",
                            "name": product,
                            "branches": [
                                {
                                    "category": "product_version",
                                    "name": version,
                                    "product": {"name": f"Example Company {product} {version}", "product_id": "CSAFPID-0001"},
                                }
                            ],
                        }
                    ],
                }
            ]
        },
        "vulnerabilities": vulnerabilities,
    }


def _cyclonedx(rng: random.Random, number: int) -> tuple[str, dict[str, Any]]:
    vulnerabilities = []
    for cve in dict.fromkeys(_cves(rng, rng.randint(1, 3))):
        state = rng.choice(_CDX_STATES)
        analysis: dict[str, Any] = {"state": state}
        if state == "not_affected":
            analysis.update(justification="code_not_reachable", detail="The vulnerable code is not reachable.")
        vulnerabilities.append({"id": cve, "source": {"name": "NVD"}, "analysis": analysis, "affects": [{"ref": "acme-product"}]})
    return f"cyclonedx-{number:05d}.json", {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "serialNumber": f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        "version": 1,
        "metadata": {
            "timestamp": "2024-03-01T00:00:00Z",
            "component": {"name": "Acme Product", "version": f"2.{number % 10}.0", "type": "application", "bom-ref": "acme-product"},
        },
        "vulnerabilities": vulnerabilities,
    }


def _openvex(rng: random.Random, number: int) -> tuple[str, dict[str, Any]]:
    statements = []
    for cve in dict.fromkeys(_cves(rng, rng.randint(1, 5))):
        status = rng.choice(_OPENVEX_STATUSES)
        statement: dict[str, Any] = {
            "vulnerability": {"name": cve},
            "products": [
                {
                    "@id": f"pkg:oci/alpine@sha256%3A{number:064x}",
                    "subcomponents": [{"@id": "pkg:apk/alpine/libssl3@3.0.8-r3"}],
                }
            ],
            "status": status,
        }
        if status == "not_affected":
            statement.update(justification="vulnerable_code_not_present", impact_statement="Removed before packaging.")
        statements.append(statement)
    return f"openvex-{number:05d}.json", {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": f"https://openvex.dev/docs/demo/vex-{number:05d}",
        "author": "The OpenVEX Project <openvex@openssf.org>",
        "timestamp": "2024-03-01T18:28:47-06:00",
        "version": 1,
        "statements": statements,
    }
