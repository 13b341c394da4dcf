"""OpenVEX (v0.2.0, and the earlier/later shapes with string vulnerabilities and products) to statements.

- One statement per `statements[].products[]` entry. A product is an object (`@id`, `identifiers`,
  `subcomponents`) or, in the older shape, a string.
- Product key: `identifiers.purl`, else an `@id` that is a purl (`pkg:`), else `identifiers.cpe23` /
  `cpe22`, else the `@id` as written. Subcomponents (the product's and the statement's) are kept,
  keyed the same way, in `Statement.subcomponents`.
- Vulnerability: `vulnerability.name`, else `vulnerability.@id`, else the string it is.
- Status and justification are OpenVEX's own (an unknown status is skipped, an unknown justification
  dropped). Detail: `impact_statement`, else `action_statement`, else `status_notes`.
- Timestamp: the statement's `timestamp`, else its `last_updated`, else the document's `last_updated`,
  else the document's `timestamp`.
"""

from __future__ import annotations

from typing import Any

from pipelines.vex.normalizers.base import (
    JUSTIFICATIONS,
    STATUSES,
    Normalized,
    Statement,
    as_list,
    objects,
    parse_timestamp,
    text,
)


def normalize(document: dict[str, Any]) -> Normalized:
    result = Normalized("openvex")
    document_timestamp = parse_timestamp(document.get("last_updated")) or parse_timestamp(document.get("timestamp"))
    statements = as_list(document.get("statements"), "statements")
    for path, entry in objects(statements, "statements", result):
        vulnerability_id = _vulnerability_id(entry.get("vulnerability"))
        if vulnerability_id is None:
            result.skip(path, "no vulnerability name or @id")
            continue
        status = entry.get("status")
        if status not in STATUSES:
            result.skip(path, f"{vulnerability_id}: status {status!r} is not an OpenVEX status")
            continue
        justification = entry.get("justification")
        detail = text(entry.get("impact_statement")) or text(entry.get("action_statement")) or text(
            entry.get("status_notes")
        )
        timestamp = (
            parse_timestamp(entry.get("timestamp")) or parse_timestamp(entry.get("last_updated")) or document_timestamp
        )
        shared_subcomponents = _keys(entry.get("subcomponents"))
        products = entry.get("products")
        if not isinstance(products, list) or not products:
            result.skip(path, f"{vulnerability_id} names no product")
            continue
        for index, product in enumerate(products):
            where = f"{path}.products[{index}]"
            key = _product_key(product)
            if key is None:
                result.skip(where, "product has no @id, purl or cpe")
                continue
            own = _keys(product.get("subcomponents")) if isinstance(product, dict) else ()
            result.add(
                Statement(
                    vulnerability_id=vulnerability_id,
                    product_key=key,
                    status=status,
                    justification=justification if justification in JUSTIFICATIONS else None,
                    detail=detail,
                    timestamp=timestamp,
                    subcomponents=tuple(dict.fromkeys(own + shared_subcomponents)),
                ),
                where,
            )
    return result


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


def _keys(subcomponents: Any) -> tuple[str, ...]:
    if not isinstance(subcomponents, list):
        return ()
    return tuple(key for key in (_product_key(s) for s in subcomponents) if key is not None)
