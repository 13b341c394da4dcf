"""Documents written in the shapes of public VEX documents that the shared corpus lacks
(`pipelines_tests/vex/data/`, its README names the public documents each shape was learned from);
each document's statements read off the file by hand, on both parser paths (whole and streamed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.vex.normalizers import Normalized, Statement, normalize_document, parse_header, provider_of
from pipelines.vex.normalizers import source as source_module

UTC = dt.timezone.utc
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(params=["whole", "streamed"])
def path(request, monkeypatch) -> str:
    """Which parser path reads the documents: streamed as a large document would be."""
    if request.param == "streamed":
        monkeypatch.setattr(source_module, "STREAM_ABOVE_BYTES", 0)
    return request.param


def read(relative: str) -> Normalized:
    result = normalize_document((DATA / relative).read_bytes())
    assert isinstance(result, Normalized), result
    assert result.format == relative.split("/")[0]
    return result


def provider(relative: str) -> str | None:
    return provider_of(parse_header((DATA / relative).read_bytes()))


def test_csaf_distribution_relationships_after_the_vulnerabilities(path):
    result = read("csaf/distro-components.json")
    bug = ("https://bugs.northwind.example/show_bug.cgi?id=40417",)
    fix = "vendor_fix: Install the updated kvstore packages."
    assert result.statements == [
        Statement("CVE-2024-31337", "kvstore-0:7.2.4-3.nw9_2.x86_64 as a component of Northwind Linux 9.2 BaseOS",
                  "fixed", action=fix, aliases=bug),
        Statement("CVE-2024-31337", "kvstore-0:7.2.4-3.nw9_2.src as a component of Northwind Linux 9.2 BaseOS",
                  "fixed", action=fix, aliases=bug),
        Statement("CVE-2024-31337", "kvstore-0:6.0.9-1.nw8.x86_64 as a component of Northwind Linux 8.8 BaseOS",
                  "affected", action="no_fix_planned: kvstore 6 on Northwind Linux 8 is out of maintenance.", aliases=bug),
        # The relationship's own purl wins over its name; the threat names no product, so no impact.
        Statement("CVE-2024-31337", "pkg:rpm/northwind/kvstore-tools@7.2.4-3.nw9_2?arch=noarch&distro=nwl-9.2",
                  "not_affected", "component_not_present", aliases=bug),
    ]
    assert result.document_timestamp == dt.datetime(2024, 2, 20, 8, 30, tzinfo=UTC)  # +01:00 in the file
    assert result.skipped == []
    assert provider("csaf/distro-components.json") == "Northwind Linux Security"


def test_csaf_ids_only_four_deep_branches_groups_and_ranges(path):
    result = read("csaf/ids-only-deep-branches.json")
    advisory = ("fabrikam-sa-20240411-provision",)
    both = "workaround: Disable remote provisioning with 'no provision remote'.\nvendor_fix: Upgrade to 15.2(7)E9 or later."
    assert result.statements == [
        # Service packs are no version branch: the product's own name is its key, unless it has a CPE.
        Statement("FBK-2024-0042", "Fabrikam RouterOS 15.2E 15.2(4)E1", "affected", action=both, aliases=advisory),
        Statement("FBK-2024-0042", "cpe:2.3:o:fabrikam:routeros:15.2\\(4\\)e2:*:*:*:*:*:*:*", "affected",
                  action=both, aliases=advisory),
        Statement("FBK-2024-0042", "Fabrikam RouterOS 15.2E 15.2(4)E3", "affected", action=both, aliases=advisory),
        # first_fixed is fixed; `recommended` names the same product and is no status.
        Statement("FBK-2024-0042", "RouterOS@15.2(7)E9", "fixed", aliases=advisory),
        Statement("CVE-2024-20399", "Switch Manager@vers:semver/>=3.0.0|<3.4.2", "not_affected",
                  "vulnerable_code_not_in_execute_path", timestamp=dt.datetime(2024, 4, 12, 8, 0, tzinfo=UTC),
                  impact="The provisioning service is never started by Switch Manager.", aliases=("FBK-2024-0057",)),
        Statement("CVE-2024-20399", "Switch Manager@3.5.0", "under_investigation", aliases=("FBK-2024-0057",)),
    ]
    assert result.document_timestamp == dt.datetime(2024, 4, 12, 8, 15, tzinfo=UTC)
    assert result.skipped == []
    assert provider("csaf/ids-only-deep-branches.json") == "Fabrikam PSIRT"


def test_cyclonedx_standalone_vex_about_other_boms_keeps_each_version(path):
    result = read("cyclonedx/standalone-bom-links.json")
    gateway = "urn:cdx:1b4e28ba-2fa1-41d2-883f-0016d3cca427/3#gateway"
    console = "urn:cdx:6f9619ff-8b86-4011-b42d-00c04fc964ff/1#console"
    exploitable = {"impact": "Header frames are buffered without limit before the request is dispatched.",
                   "action": "response: update, will_not_fix", "timestamp": dt.datetime(2024, 5, 6, 9, 0, tzinfo=UTC)}
    protected = {"impact": "These releases sit behind the bundled proxy, which caps header size.",
                 "action": "response: will_not_fix", "timestamp": dt.datetime(2024, 5, 5, tzinfo=UTC)}
    assert result.statements == [
        Statement("CVE-2024-27316", f"{gateway}@5.0.1", "affected", **exploitable),
        Statement("CVE-2024-27316", f"{gateway}@vers:generic/>=4.0|<5.0.1", "affected", **exploitable),
        Statement("CVE-2024-27316", console, "affected", **exploitable),
        Statement("CVE-2024-27316", f"{gateway}@5.0.2", "not_affected", "inline_mitigations_already_exist", **protected),
        Statement("CVE-2024-27316", f"{gateway}@vers:generic/<4.0", "not_affected", "inline_mitigations_already_exist",
                  **protected),
    ]
    assert result.skipped == [
        f"vulnerabilities[0].affects[0]: ref '{gateway}' is a BOM-Link to another BOM: kept as the product key as written",
        f"vulnerabilities[0].affects[1]: ref '{console}' is a BOM-Link to another BOM: kept as the product key as written",
        f"vulnerabilities[1].affects[0]: ref '{gateway}' is a BOM-Link to another BOM: kept as the product key as written",
    ]
    assert result.document_timestamp == dt.datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    assert provider("cyclonedx/standalone-bom-links.json") == "Contoso Product Security"


def test_cyclonedx_1_6_sbom_with_services_nested_components_and_states(path):
    result = read("cyclonedx/sbom-with-vex-1.6.json")
    patched = {"impact": "Patched in our fork; see the pedigree of xmlkit.",
               "timestamp": dt.datetime(2024, 6, 9, 13, 30, tzinfo=UTC)}  # +02:00 in the file
    safe_mode = {"action": "Set PORTAL_SAFE_MODE=1 until 3.2.0.\nresponse: workaround_available"}
    assert result.statements == [
        Statement("GHSA-4f8m-2c9q-7w3r", "icons@0.4.2", "not_affected",
                  impact="The scanner matched a different icons package.", aliases=("CVE-2024-1111",)),
        Statement("CVE-2024-2222", "pkg:maven/org.xmlkit/xmlkit@2.1.0", "under_investigation", **patched),
        Statement("CVE-2024-2222", "pkg:maven/org.xmlkit/xmlkit@2.1.1", "fixed", **patched),
        Statement("CVE-2024-3333", "auth-api@2", "under_investigation"),
        Statement("CVE-2024-4444", "pkg:generic/acme/portal@3.1.0", "not_affected",
                  "vulnerable_code_cannot_be_controlled_by_adversary", **safe_mode),
        Statement("CVE-2024-4444", "urn:cdx:a4c2f0d6-5e1b-4c3a-9f7e-2b8d6e1f0c93/3#acme-portal", "not_affected",
                  "vulnerable_code_cannot_be_controlled_by_adversary", **safe_mode),
    ]
    assert result.skipped == [
        "vulnerabilities[3].affects[1]: ref 'urn:cdx:a4c2f0d6-5e1b-4c3a-9f7e-2b8d6e1f0c93/3#acme-portal' is a "
        "BOM-Link to another BOM: kept as the product key as written",
    ]
    assert result.document_timestamp == dt.datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
    assert provider("cyclonedx/sbom-with-vex-1.6.json") == "Acme Portal Team"


def test_openvex_v0_0_1_strings_supersede_and_an_unknown_status(path):
    result = read("openvex/v0.0.1-strings.json")
    x86, arm = "pkg:apk/tundra/openssl@3.1.0-r4?arch=x86_64", "pkg:apk/tundra/openssl@3.1.0-r4?arch=aarch64"
    assert result.statements == [
        Statement("CVE-2023-2650", x86, "not_affected", "vulnerable_code_not_in_execute_path",
                  timestamp=dt.datetime(2023, 6, 15, 15, 0, tzinfo=UTC),
                  impact="OBJ_obj2txt is only reached from the CLI, which the x86_64 image does not ship."),
        Statement("CVE-2023-2650", arm, "affected", timestamp=dt.datetime(2023, 6, 14, 17, 5, 22, tzinfo=UTC),
                  subcomponents=("pkg:apk/tundra/libcrypto3@3.1.0-r4",), action="Upgrade to openssl 3.1.1-r0."),
        Statement("CVE-2023-0464", x86, "fixed", detail="Fixed upstream in 3.1.0."),
    ]
    assert result.skipped == [
        f"statements[1].products[0]: supersedes an earlier statement for CVE-2023-2650 / {x86}",
        "statements[3]: CVE-2023-0465: status 'wont_fix' is not an OpenVEX status",
    ]
    # Nanoseconds truncated to microseconds, -06:00 to UTC.
    assert result.document_timestamp == dt.datetime(2023, 6, 14, 17, 5, 22, 918273, tzinfo=UTC)
    assert provider("openvex/v0.0.1-strings.json") == "Tundra OS Security"


def test_openvex_v0_2_0_identifiers_subcomponents_and_an_older_statement_later_in_the_file(path):
    result = read("openvex/v0.2.0-identifiers.json")
    tools = "pkg:oci/tools@sha256%3A0c9d4e2f?arch=amd64"
    assert result.statements == [
        Statement("CVE-2024-3094", "pkg:oci/base@sha256%3Ab7a1c5d3e9f20486?repository_url=registry.harbor-images.example/base",
                  "not_affected", "vulnerable_code_not_present", "Checked against the build provenance.",
                  dt.datetime(2024, 3, 30, 12, 0, tzinfo=UTC),
                  subcomponents=("pkg:deb/debian/xz-utils@5.4.1-0.2?arch=amd64", "cpe:2.3:a:tukaani:xz:5.4.1:*:*:*:*:*:*:*"),
                  impact="The image ships xz 5.4.1; the backdoored releases are 5.6.0 and 5.6.1.",
                  aliases=("OSV-2024-3094",)),
        Statement("CVE-2024-3094", tools, "affected", timestamp=dt.datetime(2024, 3, 30, 13, 0, tzinfo=UTC),
                  action="Rebuild on the 2024-04 base image."),
        Statement("GHSA-9wx4-h78v-vm56", "cpe:/a:harbor-images:agent:1.2", "fixed"),
    ]
    assert result.skipped == [f"statements[2].products[0]: superseded by a later statement for CVE-2024-3094 / {tools}"]
    assert result.document_timestamp == dt.datetime(2024, 3, 31, 18, 45, tzinfo=UTC)  # last_updated
    assert provider("openvex/v0.2.0-identifiers.json") == "Harbor Images <security@harbor-images.example>"
