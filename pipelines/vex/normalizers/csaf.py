"""CSAF 2.0 (profile "VEX") to statements.

- Products: `product_tree` is resolved to product ids: products in `branches` (any depth),
  `full_product_names`, and `relationships[].full_product_name`; `product_groups` expand to their ids.
- Product key: the product's `product_identification_helper.purl`, else its `.cpe`, else
  `<product_name branch>@<product_version or product_version_range branch>` for a product in branches
  (`ABC@4.2`), else the product's own `name`.
- Status from `vulnerabilities[].product_status`: `known_not_affected` -> not_affected; `known_affected`,
  `first_affected`, `last_affected` -> affected; `fixed`, `first_fixed` -> fixed; `under_investigation`
  -> under_investigation. `recommended` names a version to install, not a status, and is ignored.
- Justification: the `flags[].label` naming the product (CSAF labels are OpenVEX justifications), for
  not_affected statements only.
- Impact: the `details` of the `threats[]` of category `impact` naming the product; action: the
  `remediations[]` naming it, as `<category>: <details>` (several joined by a newline).
- Vulnerability id: `cve`, else the first `ids[].text` (a vulnerability may have only `ids`); the
  other `ids[].text` are its aliases.
- Timestamps: the statement's, the `date` of the flag naming the product; the document's,
  `document.tracking.current_release_date`.

A large document is read in two passes (`source`): the first builds `product_tree` pruned to the
fields above (`PRUNED`) and the product id -> key map from it, wherever the tree is in the file; the
second reads `vulnerabilities` one at a time, each pruned to `VULNERABILITY`.
"""

from __future__ import annotations

from typing import Any

from pipelines.vex.normalizers.base import (
    JUSTIFICATIONS,
    DocumentError,
    Normalized,
    Statement,
    as_object,
    parse_timestamp,
    strings,
    text,
)
from pipelines.vex.normalizers.source import KEEP, Source

LISTS = ("vulnerabilities",)
# What of a product, a branch (nested at any depth) and the product tree the rules read. A rule that
# reads another field must name it here (and in VULNERABILITY), or a large document never sees it: the
# tests compare the two paths on every document.
_PRODUCT = {"product_id": KEEP, "name": KEEP, "product_identification_helper": {"purl": KEEP, "cpe": KEEP}}
_BRANCH: dict[str, object] = {"category": KEEP, "name": KEEP, "product": _PRODUCT}
_BRANCH["branches"] = [_BRANCH]
PRUNED = {
    "product_tree": {
        "branches": [_BRANCH],
        "full_product_names": [_PRODUCT],
        "relationships": [{"full_product_name": _PRODUCT}],
        "product_groups": [{"group_id": KEEP, "product_ids": KEEP}],
    }
}
_NAMING_PRODUCTS = {name: KEEP for name in ("category", "label", "date", "details", "product_ids", "group_ids")}
VULNERABILITY = {
    "cve": KEEP,
    "ids": KEEP,
    "product_status": KEEP,
    "flags": [_NAMING_PRODUCTS],
    "threats": [_NAMING_PRODUCTS],
    "remediations": [_NAMING_PRODUCTS],
}

_STATUS = {
    "known_not_affected": "not_affected",
    "known_affected": "affected",
    "first_affected": "affected",
    "last_affected": "affected",
    "fixed": "fixed",
    "first_fixed": "fixed",
    "under_investigation": "under_investigation",
}
_IGNORED_STATUS = ("recommended",)
_VERSION_BRANCHES = ("product_version", "product_version_range")


def normalize(source: Source) -> Normalized:
    result = Normalized("csaf")
    header = as_object(source.get("document"), "document")
    tracking = header.get("tracking")
    result.document_timestamp = (
        parse_timestamp(tracking.get("current_release_date")) if isinstance(tracking, dict) else None
    )
    tree = source.take("product_tree")  # dropped once its products are resolved
    tree = as_object(tree, "product_tree") if tree is not None else {}
    products = _product_keys(tree, result)
    groups = _product_groups(tree, result)
    del tree
    vulnerabilities = source.items("vulnerabilities", VULNERABILITY)
    if vulnerabilities is None:
        raise DocumentError("vulnerabilities is null, expected a list")
    for index, vulnerability in enumerate(vulnerabilities):
        path = f"vulnerabilities[{index}]"
        if not isinstance(vulnerability, dict):
            result.skip(path, "is not an object")
            continue
        _vulnerability_statements(path, vulnerability, products, groups, result)
    return result


def _vulnerability_statements(
    path: str,
    vulnerability: dict[str, Any],
    products: dict[str, str],
    groups: dict[str, list[str]],
    result: Normalized,
) -> None:
    ids = [text(item.get("text")) for item in _list(vulnerability.get("ids")) if isinstance(item, dict)]
    ids = [i for i in ids if i is not None]
    vulnerability_id = text(vulnerability.get("cve")) or (ids[0] if ids else None)
    if vulnerability_id is None:
        result.skip(path, "no vulnerability id (neither cve nor ids[].text)")
        return
    product_status = vulnerability.get("product_status")
    if not isinstance(product_status, dict):
        result.skip(path, f"{vulnerability_id} has no product_status object")
        return
    aliases = tuple(i for i in dict.fromkeys(ids) if i != vulnerability_id)
    justifications = _by_product(vulnerability.get("flags"), "label", groups, lambda f: True)
    flag_dates = _by_product(vulnerability.get("flags"), "date", groups, lambda f: True)
    impacts = _by_product(vulnerability.get("threats"), "details", groups, lambda t: t.get("category") == "impact")
    remediations = _by_product(vulnerability.get("remediations"), "details", groups, lambda r: True, labelled=True)
    for category, product_ids in product_status.items():
        where = f"{path}.product_status.{category}"
        if category in _IGNORED_STATUS:
            continue
        status = _STATUS.get(category)
        if status is None:
            result.skip(where, f"unknown product_status category {category!r}")
            continue
        if not isinstance(product_ids, list):
            result.skip(where, "is not a list of product ids")
            continue
        for index, product_id in enumerate(product_ids):
            key = products.get(product_id) if isinstance(product_id, str) else None
            if key is None:
                result.skip(f"{where}[{index}]", f"product id {product_id!r} does not resolve in product_tree")
                continue
            justification = None
            if status == "not_affected":
                labels = [j for j in justifications.get(product_id, []) if j in JUSTIFICATIONS]
                justification = labels[0] if labels else None
            impact, action = impacts.get(product_id), remediations.get(product_id)
            dates = [d for d in (parse_timestamp(v) for v in flag_dates.get(product_id, [])) if d is not None]
            result.add(
                Statement(
                    vulnerability_id=vulnerability_id,
                    product_key=key,
                    status=status,
                    justification=justification,
                    timestamp=max(dates) if dates else None,
                    impact="\n".join(impact) if impact else None,
                    action="\n".join(action) if action else None,
                    aliases=aliases,
                ),
                f"{where}[{index}]",
            )


def _by_product(
    entries: Any, field: str, groups: dict[str, list[str]], keep: Any, *, labelled: bool = False
) -> dict[str, list[str]]:
    """product id -> the `field` values of the entries (flags, threats, remediations) naming it;
    `labelled`: each value as `<category>: <value>`."""
    found: dict[str, list[str]] = {}
    if not isinstance(entries, list):
        return found
    for entry in entries:
        if not isinstance(entry, dict) or not keep(entry):
            continue
        value = text(entry.get(field))
        if value is None:
            continue
        if labelled and text(entry.get("category")):
            value = f"{text(entry.get('category'))}: {value}"
        ids = strings(entry.get("product_ids"))
        for group in strings(entry.get("group_ids")):
            ids.extend(groups.get(group, []))
        for product_id in ids:
            values = found.setdefault(product_id, [])
            if value not in values:
                values.append(value)
    return found


def _product_keys(tree: dict[str, Any], result: Normalized) -> dict[str, str]:
    """product id -> product key, from branches, full product names and relationships."""
    keys: dict[str, str] = {}

    def remember(product: Any, where: str, fallback: str | None) -> None:
        if not isinstance(product, dict):
            result.skip(where, "product is not an object")
            return
        product_id = text(product.get("product_id"))
        key = _identification(product.get("product_identification_helper")) or fallback or text(product.get("name"))
        if product_id is None or key is None:
            result.skip(where, "product has no product_id or no name")
            return
        keys.setdefault(product_id, key)

    # Branches can nest arbitrarily deep: walk them with a stack, not recursion.
    stack: list[tuple[str, Any, str | None]] = [
        (f"product_tree.branches[{i}]", branch, None) for i, branch in enumerate(_list(tree.get("branches")))
    ][::-1]
    while stack:
        where, branch, product_name = stack.pop()
        if not isinstance(branch, dict):
            continue
        category, name = branch.get("category"), text(branch.get("name"))
        if category == "product_name" and name is not None:
            product_name = name
        if "product" in branch:
            version = name if category in _VERSION_BRANCHES else None
            fallback = f"{product_name}@{version}" if product_name and version else None
            remember(branch["product"], f"{where}.product", fallback)
        children = [(f"{where}.branches[{i}]", c, product_name) for i, c in enumerate(_list(branch.get("branches")))]
        stack.extend(reversed(children))  # depth first, in document order
    for index, product in enumerate(_list(tree.get("full_product_names"))):
        remember(product, f"product_tree.full_product_names[{index}]", None)
    for index, relationship in enumerate(_list(tree.get("relationships"))):
        if isinstance(relationship, dict):
            remember(relationship.get("full_product_name"), f"product_tree.relationships[{index}]", None)
    return keys


def _product_groups(tree: dict[str, Any], result: Normalized) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for index, group in enumerate(_list(tree.get("product_groups"))):
        group_id = text(group.get("group_id")) if isinstance(group, dict) else None
        if group_id is None:
            result.skip(f"product_tree.product_groups[{index}]", "group has no group_id")
            continue
        groups[group_id] = strings(group.get("product_ids"))
    return groups


def _identification(helper: Any) -> str | None:
    if not isinstance(helper, dict):
        return None
    return text(helper.get("purl")) or text(helper.get("cpe"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
