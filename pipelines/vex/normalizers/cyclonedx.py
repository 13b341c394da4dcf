"""CycloneDX 1.4 to 1.6 VEX to statements.

- Products: `vulnerabilities[].affects[].ref` resolved through the `bom-ref`s of `metadata.component`,
  `components` and `services` (nested at any depth). A BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`,
  1.5+) naming this BOM (its `serialNumber` and `version`) resolves its `bom-ref` here; one naming
  another BOM, and a ref that matches no `bom-ref`, are kept as the product key as written (with a
  note in the skip reasons, so they are never lost silently); with `versions[]`, one statement per
  entry keyed `<ref>@<version or range>` (a standalone VEX about another BOM's product, as in
  CISA's use cases, states affected and unaffected versions of one ref in two vulnerabilities).
- Product key: the component's `purl`, else its `cpe`, else `<name>@<version>`; with `versions[]` in
  the affects entry, one statement per entry, keyed `<purl without version, or name>@<version>` for a
  `version` entry and `<...>@<range>` (the `vers:` range as written) for a `range` entry.
- Status from `analysis.state`: `in_triage` -> under_investigation, `resolved` and
  `resolved_with_pedigree` -> fixed, `exploitable` -> affected, `false_positive` and `not_affected` ->
  not_affected. A vulnerability without a known state is skipped. A `versions[]` entry's own
  `status` refines it: `unaffected` -> not_affected, `unknown` -> under_investigation, `affected` ->
  the analysis state's status.
- Justification (not_affected only): `code_not_present` -> vulnerable_code_not_present,
  `code_not_reachable` -> vulnerable_code_not_in_execute_path, `requires_dependency` ->
  component_not_present, `requires_configuration` and `requires_environment` ->
  vulnerable_code_cannot_be_controlled_by_adversary, `protected_*` -> inline_mitigations_already_exist.
- Impact: `analysis.detail`. Action: the vulnerability's `recommendation` and `analysis.response`
  (`response: update, will_not_fix`). Aliases: the `references[].id`.
- Timestamps: the statement's `analysis.lastUpdated`, else the vulnerability's `updated`; the
  document's `metadata.timestamp`.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import unquote

from pipelines.vex.normalizers.base import Normalized, Statement, objects, parse_timestamp, strings, text
from pipelines.vex.normalizers.source import Source

LISTS = ("vulnerabilities", "components", "services")

_STATES = {
    "in_triage": "under_investigation",
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "exploitable": "affected",
    "false_positive": "not_affected",
    "not_affected": "not_affected",
}
_JUSTIFICATIONS = {
    "code_not_present": "vulnerable_code_not_present",
    "code_not_reachable": "vulnerable_code_not_in_execute_path",
    "requires_dependency": "component_not_present",
    "requires_configuration": "vulnerable_code_cannot_be_controlled_by_adversary",
    "requires_environment": "vulnerable_code_cannot_be_controlled_by_adversary",
    "protected_by_compiler": "inline_mitigations_already_exist",
    "protected_at_runtime": "inline_mitigations_already_exist",
    "protected_at_perimeter": "inline_mitigations_already_exist",
    "protected_by_mitigating_control": "inline_mitigations_already_exist",
}
_VERSION_STATUS = {"unaffected": "not_affected", "unknown": "under_investigation"}
_BOM_LINK = "urn:cdx:"


@dataclasses.dataclass(frozen=True, slots=True)
class _Component:  # one per bom-ref of a large BOM: no __dict__ each
    identity: str | None  # purl, else cpe
    name: str | None
    version: str | None


def normalize(source: Source) -> Normalized:
    result = Normalized("cyclonedx")
    metadata = source.get("metadata") if isinstance(source.get("metadata"), dict) else {}
    result.document_timestamp = parse_timestamp(metadata.get("timestamp"))
    components = _components_by_ref(source)
    this_bom = _this_bom(source)
    vulnerabilities = source.items("vulnerabilities")
    if vulnerabilities is None:
        result.skip("vulnerabilities", "the BOM states no vulnerability")
        return result
    for index, vulnerability in enumerate(vulnerabilities):
        path = f"vulnerabilities[{index}]"
        if not isinstance(vulnerability, dict):
            result.skip(path, "is not an object")
            continue
        _vulnerability(path, vulnerability, components, this_bom, result)
    return result


def _vulnerability(
    path: str,
    vulnerability: dict[str, Any],
    components: dict[str, _Component],
    this_bom: str | None,
    result: Normalized,
) -> None:
    vulnerability_id = text(vulnerability.get("id"))
    if vulnerability_id is None:
        result.skip(path, "no vulnerability id")
        return
    analysis = vulnerability.get("analysis") if isinstance(vulnerability.get("analysis"), dict) else {}
    state = analysis.get("state")
    status = _STATES.get(state) if isinstance(state, str) else None
    if status is None:
        result.skip(path, f"{vulnerability_id}: analysis.state {state!r} is not a VEX state")
        return
    justification = analysis.get("justification")
    responses = strings(analysis.get("response"))
    actions = [text(vulnerability.get("recommendation")), f"response: {', '.join(responses)}" if responses else None]
    references = vulnerability.get("references") if isinstance(vulnerability.get("references"), list) else []
    template = Statement(
        vulnerability_id=vulnerability_id,
        product_key="",
        status=status,
        justification=_JUSTIFICATIONS.get(justification) if isinstance(justification, str) else None,
        timestamp=parse_timestamp(analysis.get("lastUpdated")) or parse_timestamp(vulnerability.get("updated")),
        impact=text(analysis.get("detail")),
        action="\n".join(a for a in actions if a) or None,
        aliases=tuple(dict.fromkeys(text(r.get("id")) for r in references if isinstance(r, dict) and text(r.get("id")))),
    )
    affects = list(objects(vulnerability.get("affects"), f"{path}.affects", result))
    if not affects:
        result.skip(path, f"{vulnerability_id} affects no product")
        return
    for where, affect in affects:
        for key, version_status in _product_keys(where, affect, components, this_bom, result):
            statement_status = status if version_status in (None, "affected") else _VERSION_STATUS[version_status]
            statement = dataclasses.replace(
                template,
                product_key=key,
                status=statement_status,
                justification=template.justification if statement_status == "not_affected" else None,
            )
            result.add(statement, where)


def _product_keys(
    where: str,
    affect: dict[str, Any],
    components: dict[str, _Component],
    this_bom: str | None,
    result: Normalized,
) -> list[tuple[str, str | None]]:
    """(product key, the version entry's status) per product the affects entry names."""
    ref = text(affect.get("ref"))
    if ref is None:
        result.skip(where, "affects entry has no ref")
        return []
    local = _local_ref(ref, this_bom)
    component = components.get(local) if local is not None else None
    versions = [
        (text(v.get("version")) or text(v.get("range")), _version_status(v.get("status")))
        for v in (affect.get("versions") if isinstance(affect.get("versions"), list) else [])
        if isinstance(v, dict)
    ]
    versions = [(v, s) for v, s in versions if v is not None]
    if component is None:
        reason = "is a BOM-Link to another BOM" if ref.startswith(_BOM_LINK) and local is None else "matches no bom-ref"
        result.skip(where, f"ref {ref!r} {reason}: kept as the product key as written")
        if versions:  # a standalone VEX naming another BOM's product: one statement per version entry
            return [(f"{ref}@{version}", status) for version, status in versions]
        return [(ref, None)]
    if not versions:
        identity = component.identity
        if identity is None and component.name is None:
            result.skip(where, f"component {ref!r} has no purl, cpe or name")
            return []
        if identity is None:
            identity = f"{component.name}@{component.version}" if component.version else component.name
        return [(identity, None)]
    base = _without_version(component.identity) if component.identity else component.name
    if base is None:
        result.skip(where, f"component {ref!r} has no purl, cpe or name")
        return []
    return [(f"{base}@{version}", status) for version, status in versions]


def _version_status(value: Any) -> str | None:
    return value if isinstance(value, str) and value in _VERSION_STATUS else None


def _without_version(identity: str) -> str:
    """A purl without its `@version` (qualifiers and subpath dropped too); a CPE as it is."""
    if not identity.startswith("pkg:"):
        return identity
    path = identity.split("?", 1)[0].split("#", 1)[0]
    name_start = path.rfind("/") + 1
    at = path.find("@", name_start)
    return path if at < 0 else path[:at]


def _this_bom(source: Source) -> str | None:
    """This BOM as BOM-Links name it: `urn:cdx:<uuid>/<version>`."""
    serial = text(source.get("serialNumber"))
    if serial is None or not serial.startswith("urn:uuid:"):
        return None
    version = source.get("version")
    return f"{_BOM_LINK}{serial.removeprefix('urn:uuid:')}/{version if isinstance(version, int) else 1}"


def _local_ref(ref: str, this_bom: str | None) -> str | None:
    """The bom-ref a ref names in this BOM: itself, or a BOM-Link's fragment when it links here."""
    if not ref.startswith(_BOM_LINK):
        return ref
    bom, _, fragment = ref.partition("#")
    return unquote(fragment) if fragment and bom == this_bom else None


def _components_by_ref(source: Source) -> dict[str, _Component]:
    """bom-ref -> component (or service), from metadata.component and every nested list."""
    found: dict[str, _Component] = {}
    metadata = source.get("metadata")
    tops: list[Any] = [metadata.get("component")] if isinstance(metadata, dict) else []
    for name in ("components", "services"):
        for item in source.items(name) or ():
            _remember(item, found)
    for item in tops:
        _remember(item, found)
    return found


def _remember(top: Any, found: dict[str, _Component]) -> None:
    stack = [top]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        ref = text(item.get("bom-ref"))
        if ref is not None and ref not in found:
            found[ref] = _Component(
                text(item.get("purl")) or text(item.get("cpe")), text(item.get("name")), text(item.get("version"))
            )
        for name in ("components", "services"):
            if isinstance(item.get(name), list):
                stack.extend(item[name])
