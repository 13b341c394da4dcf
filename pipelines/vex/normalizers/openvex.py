"""OpenVEX v0.0.1 (`@context` https://openvex.dev/ns) and v0.2.0 (https://openvex.dev/ns/v0.2.0) to statements.

- A document is a sequence of statements, each overriding the earlier ones: when two statements name
  the same vulnerability and product, the later one wins (later `timestamp`; on a tie or a missing
  timestamp, the later in the document) and the earlier is a skip with its reason.
- One statement per `statements[].products[]` entry. A product is an object (v0.2.0: `@id`,
  `identifiers`, `subcomponents`) or a string (v0.0.1).
- Product key: `identifiers.purl`, else an `@id` that is a purl (`pkg:`), else `identifiers.cpe23` /
  `cpe22`, else the `@id` as written. Subcomponents (the product's, and v0.0.1's statement-level
  list) are kept, keyed the same way, in `Statement.subcomponents`.
- Vulnerability: `vulnerability.name`, else `vulnerability.@id`, else the string it is (v0.0.1);
  `vulnerability.aliases` are kept.
- Status and justification are OpenVEX's own (an unknown status is skipped, an unknown
  justification dropped). `impact_statement` and `action_statement` are kept as they are;
  detail: `status_notes`.
- Timestamps: the statement's `timestamp`, else its `last_updated` (the statement's own); the
  document's `last_updated`, else its `timestamp`.
"""

from __future__ import annotations

from typing import Any

from pipelines.vex.normalizers.base import (
    JUSTIFICATIONS,
    STATUSES,
    DocumentError,
    Normalized,
    Statement,
    parse_timestamp,
    strings,
    text,
)
from pipelines.vex.normalizers.source import Source

LISTS = ("statements",)


def normalize(source: Source) -> Normalized:
    result = Normalized("openvex")
    result.document_timestamp = parse_timestamp(source.get("last_updated")) or parse_timestamp(source.get("timestamp"))
    statements = source.items("statements")
    if statements is None:
        raise DocumentError("statements is null, expected a list")
    for index, entry in enumerate(statements):
        path = f"statements[{index}]"
        if not isinstance(entry, dict):
            result.skip(path, "is not an object")
            continue
        _statement(path, entry, result)
    return result


def _statement(path: str, entry: dict[str, Any], result: Normalized) -> None:
    vulnerability = entry.get("vulnerability")
    vulnerability_id = _vulnerability_id(vulnerability)
    if vulnerability_id is None:
        result.skip(path, "no vulnerability name or @id")
        return
    status = entry.get("status")
    if status not in STATUSES:
        result.skip(path, f"{vulnerability_id}: status {status!r} is not an OpenVEX status")
        return
    justification = entry.get("justification")
    aliases = tuple(dict.fromkeys(strings(vulnerability.get("aliases")))) if isinstance(vulnerability, dict) else ()
    shared_subcomponents = _keys(entry.get("subcomponents"), result)
    products = entry.get("products")
    if not isinstance(products, list) or not products:
        result.skip(path, f"{vulnerability_id} names no product")
        return
    timestamp = parse_timestamp(entry.get("timestamp")) or parse_timestamp(entry.get("last_updated"))
    for index, product in enumerate(products):
        where = f"{path}.products[{index}]"
        key = result.shared(_product_key(product))
        if key is None:
            result.skip(where, "product has no @id, purl or cpe")
            continue
        own = _keys(product.get("subcomponents"), result) if isinstance(product, dict) else ()
        result.add(
            Statement(
                vulnerability_id=vulnerability_id,
                product_key=key,
                status=status,
                justification=justification if justification in JUSTIFICATIONS else None,
                detail=text(entry.get("status_notes")),
                timestamp=timestamp,
                subcomponents=tuple(dict.fromkeys(own + shared_subcomponents)),
                impact=text(entry.get("impact_statement")),
                action=text(entry.get("action_statement")),
                aliases=aliases,
            ),
            where,
            supersede=True,
        )


def _vulnerability_id(vulnerability: Any) -> str | None:
    if isinstance(vulnerability, dict):
        return text(vulnerability.get("name")) or text(vulnerability.get("@id"))
    return text(vulnerability)


def _product_key(product: Any) -> str | None:
    if not isinstance(product, dict):
        return text(product)
    identifiers = product.get("identifiers") if isinstance(product.get("identifiers"), dict) else {}
    at_id = text(product.get("@id"))
    return (
        text(identifiers.get("purl"))
        or (at_id if at_id and at_id.startswith("pkg:") else None)
        or text(identifiers.get("cpe23"))
        or text(identifiers.get("cpe22"))
        or at_id
    )


def _keys(subcomponents: Any, result: Normalized) -> tuple[str, ...]:
    if not isinstance(subcomponents, list):
        return ()
    return tuple(result.shared(key) for key in (_product_key(s) for s in subcomponents) if key is not None)
