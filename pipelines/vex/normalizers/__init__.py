"""VEX normalizers: raw document bytes -> `Statement`s in OpenVEX's vocabulary.

`normalize_document` never raises on bad input: it returns `Normalized` (statements plus the reasons
statements were skipped) or `NormalizeFailure` (why the document as a whole was refused).
"""

from __future__ import annotations

from typing import Any

from pipelines.vex.normalizers import csaf, cyclonedx, openvex, source
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
    "NORMALIZER_VERSION",
    "normalize_document",
    "parse_header",
    "provider_of",
]

# Raise it when a rule changes what a document normalizes to: the backfill then reprocesses every
# document normalized by an older version (without --force). 2: issue 14's rules. 3: a CycloneDX ref
# naming no component here keeps its versions[] entries.
NORMALIZER_VERSION = 3

_NORMALIZERS = {"csaf": csaf.normalize, "cyclonedx": cyclonedx.normalize, "openvex": openvex.normalize}
# The top-level lists a large document's normalizer reads item by item, never whole.
_STREAMED_LISTS = tuple(dict.fromkeys(csaf.LISTS + cyclonedx.LISTS + openvex.LISTS))
# The members a large document's normalizer reads pruned to the fields it uses (CSAF's product tree).
_PRUNED = csaf.PRUNED


def parse_header(content: bytes) -> dict[str, Any]:
    """A document's top-level object (without its big lists when it is large: enough to detect the
    format and the provider; nor the pruned members); `DocumentError` when it is not a JSON object."""
    return source.load(content, _STREAMED_LISTS + tuple(_PRUNED)).header


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
        document = source.load(content, _STREAMED_LISTS, _PRUNED)
        chosen = format or detect_format(document.header)
        if chosen is None:
            raise DocumentError("JSON of none of the formats csaf, cyclonedx, openvex")
        normalizer = _NORMALIZERS.get(chosen)
        if normalizer is None:
            raise DocumentError(f"unknown format {chosen!r}: expected one of {', '.join(FORMATS)}")
        return normalizer(document).finish()
    except DocumentError as exc:
        return NormalizeFailure(str(exc), format)
    except RecursionError:
        return NormalizeFailure("nested too deeply to normalize", format)
