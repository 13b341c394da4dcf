"""VEX normalizers: raw document bytes -> `Statement`s in OpenVEX's vocabulary.

`normalize_document` never raises on bad input: it returns `Normalized` (statements plus the reasons
statements were skipped) or `NormalizeFailure` (why the document as a whole was refused).
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.vex.normalizers import csaf, cyclonedx, openvex
from pipelines.vex.normalizers.base import (
    FORMATS,
    JUSTIFICATIONS,
    STATUSES,
    DocumentError,
    Normalized,
    NormalizeFailure,
    Statement,
    text,
)

__all__ = [
    "FORMATS",
    "JUSTIFICATIONS",
    "STATUSES",
    "NormalizeFailure",
    "Normalized",
    "Statement",
    "detect_format",
    "normalize_document",
    "parse_json",
    "provider_of",
]

_NORMALIZERS = {"csaf": csaf.normalize, "cyclonedx": cyclonedx.normalize, "openvex": openvex.normalize}


def parse_json(content: bytes) -> Any:
    """The JSON value of a document's bytes; `DocumentError` when they are not JSON."""
    try:
        return json.loads(content)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise DocumentError("not usable JSON: nested too deeply") from None


def detect_format(document: Any) -> str | None:
    """`csaf`, `cyclonedx` or `openvex` from a parsed document's own markers; None when none fits."""
    if not isinstance(document, dict):
        return None
    header = document.get("document")
    if isinstance(header, dict) and "csaf_version" in header:
        return "csaf"
    if document.get("bomFormat") == "CycloneDX":
        return "cyclonedx"
    context = document.get("@context")
    if isinstance(context, str) and "openvex.dev/ns" in context:
        return "openvex"
    return None


def provider_of(document: Any) -> str | None:
    """Who published a parsed document, as the document says: CSAF publisher, CycloneDX supplier /
    manufacturer / first author, OpenVEX author."""
    if not isinstance(document, dict):
        return None
    header = document.get("document")
    if isinstance(header, dict) and isinstance(header.get("publisher"), dict):
        return text(header["publisher"].get("name"))
    metadata = document.get("metadata")
    if isinstance(metadata, dict):
        for field in ("supplier", "manufacturer", "manufacture"):
            if isinstance(metadata.get(field), dict) and text(metadata[field].get("name")):
                return text(metadata[field].get("name"))
        authors = metadata.get("authors")
        if isinstance(authors, list) and authors and isinstance(authors[0], dict):
            return text(authors[0].get("name"))
    return text(document.get("author"))


def normalize_document(content: bytes, format: str | None = None) -> Normalized | NormalizeFailure:
    """Parse and normalize one raw document; `format` (as stored) wins over detection."""
    try:
        document = parse_json(content)
        chosen = format or detect_format(document)
        if chosen is None:
            raise DocumentError("JSON of none of the formats csaf, cyclonedx, openvex")
        normalizer = _NORMALIZERS.get(chosen)
        if normalizer is None:
            raise DocumentError(f"unknown format {chosen!r}: expected one of {', '.join(FORMATS)}")
        if not isinstance(document, dict):
            raise DocumentError(f"a {chosen} document must be a JSON object")
        return normalizer(document)
    except DocumentError as exc:
        return NormalizeFailure(str(exc), format)
    except RecursionError:
        return NormalizeFailure("nested too deeply to normalize", format)
