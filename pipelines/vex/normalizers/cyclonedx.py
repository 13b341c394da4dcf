"""CycloneDX 1.4 to 1.6 VEX to statements.

- Products: `vulnerabilities[].affects[].ref` resolved through the `bom-ref`s of `metadata.component`,
  `components` and `services` (nested at any depth). A BOM-Link (`urn:cdx:<serial>/<version>#<ref>`)
  names a component of another BOM and is kept as the product key as written; any other ref that
  matches no `bom-ref` is a skipped statement.
- Product key: the component's `purl`, else its `cpe`, else `<name>@<version>` where the version is
  the affects entry's `versions[].version` or `versions[].range` when given (one statement per entry),
  else the component's own `version`; a component with neither is keyed by its name alone.
- Status from `analysis.state`: `in_triage` -> under_investigation, `resolved` and
  `resolved_with_pedigree` -> fixed, `exploitable` -> affected, `false_positive` and `not_affected` ->
  not_affected. A vulnerability without a known state is skipped.
- Justification (not_affected only): `code_not_present` -> vulnerable_code_not_present,
  `code_not_reachable` -> vulnerable_code_not_in_execute_path, `requires_dependency` ->
  component_not_present, `requires_configuration` and `requires_environment` ->
  vulnerable_code_cannot_be_controlled_by_adversary, `protected_*` -> inline_mitigations_already_exist.
- Detail: `analysis.detail`. Timestamp: `analysis.lastUpdated`, else the vulnerability's `updated`,
  else `metadata.timestamp`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipelines.vex.normalizers.base import (
    Normalized,
    Statement,
    as_list,
    objects,
    parse_timestamp,
    text,
)

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
_BOM_LINK = "urn:cdx:"


def normalize(document: dict[str, Any]) -> Normalized:
    result = Normalized("cyclonedx")
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    default_timestamp = parse_timestamp(metadata.get("timestamp"))
    components = _components_by_ref(document)
    vulnerabilities = as_list(document.get("vulnerabilities"), "vulnerabilities")
    for path, vulnerability in objects(vulnerabilities, "vulnerabilities", result):
        vulnerability_id = text(vulnerability.get("id"))
        if vulnerability_id is None:
            result.skip(path, "no vulnerability id")
            continue
        analysis = vulnerability.get("analysis") if isinstance(vulnerability.get("analysis"), dict) else {}
        state = analysis.get("state")
        status = _STATES.get(state) if isinstance(state, str) else None
        if status is None:
            result.skip(path, f"{vulnerability_id}: analysis.state {state!r} is not a VEX state")
            continue
        justification = analysis.get("justification")
        template = Statement(
            vulnerability_id=vulnerability_id,
            product_key="",
            status=status,
            justification=_JUSTIFICATIONS.get(justification)
            if status == "not_affected" and isinstance(justification, str)
            else None,
            detail=text(analysis.get("detail")),
            timestamp=parse_timestamp(analysis.get("lastUpdated"))
            or parse_timestamp(vulnerability.get("updated"))
            or default_timestamp,
        )
        affects = list(objects(vulnerability.get("affects"), f"{path}.affects", result))
        if not affects:
            result.skip(path, f"{vulnerability_id} affects no product")
            continue
        for where, affect in affects:
            for key in _product_keys(where, affect, components, result):
                result.add(dataclasses.replace(template, product_key=key), where)
    return result


def _product_keys(
    where: str, affect: dict[str, Any], components: dict[str, dict[str, Any]], result: Normalized
) -> list[str]:
    ref = text(affect.get("ref"))
    if ref is None:
        result.skip(where, "affects entry has no ref")
        return []
    component = components.get(ref)
    if component is None:
        if ref.startswith(_BOM_LINK):
            return [ref]
        result.skip(where, f"ref {ref!r} matches no bom-ref in the document")
        return []
    identity = text(component.get("purl")) or text(component.get("cpe"))
    if identity is not None:
        return [identity]
    name = text(component.get("name"))
    if name is None:
        result.skip(where, f"component {ref!r} has no purl, cpe or name")
        return []
    versions = [
        text(v.get("version")) or text(v.get("range"))
        for v in (affect.get("versions") if isinstance(affect.get("versions"), list) else [])
        if isinstance(v, dict)
    ]
    versions = [v for v in versions if v is not None] or [text(component.get("version"))]
    return [f"{name}@{version}" if version else name for version in versions]


def _components_by_ref(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """bom-ref -> component (or service), from metadata.component and every nested list."""
    found: dict[str, dict[str, Any]] = {}
    metadata = document.get("metadata")
    stack: list[Any] = []
    if isinstance(metadata, dict):
        stack.append(metadata.get("component"))
    stack.extend(_list(document.get("components")))
    stack.extend(_list(document.get("services")))
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        ref = text(item.get("bom-ref"))
        if ref is not None:
            found.setdefault(ref, item)
        stack.extend(_list(item.get("components")))
        stack.extend(_list(item.get("services")))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
