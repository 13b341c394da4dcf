"""Landing raw VEX documents: exact bytes in, `sha256:<hex>` digest, known digests skipped.

Documents come from the object store (`vex/inbox/`, moved to `vex/landed/` once recorded, so a re-run
finds nothing to do) or from local paths. A document whose format cannot be detected is still landed
(format NULL) so that the backfill counts it as a failure with its reason. Signature metadata, when a
sidecar `<document>.signature.json` holds a JSON object, is kept as given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipelines.core.database import Database, insert_skipping_conflicts
from pipelines.core.object_store import ObjectStore
from pipelines.vex.errors import VexError
from pipelines.vex.normalizers import FORMATS, detect_format, parse_header, provider_of
from pipelines.vex.normalizers.base import DocumentError
from pipelines.vex.requests import INBOX_PREFIX
from pipelines.vex.tables import vex_raw_documents

log = logging.getLogger(__name__)

LANDED_PREFIX = "vex/landed/"
SIGNATURE_SUFFIX = ".signature.json"
UNKNOWN_PROVIDER = "unknown"
LANDING_BATCH = 100


LISTED_DOCUMENTS = 100


@dataclass(frozen=True)
class RawDocument:
    digest: str
    provider: str
    format: str | None
    source_uri: str
    retrieved_at: dt.datetime
    content: bytes
    signature: Any = None

    def row(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "provider": self.provider,
            "format": self.format,
            "source_uri": self.source_uri,
            "retrieved_at": self.retrieved_at,
            "content": self.content,
            "signature": self.signature,
        }


@dataclass
class LandingSummary:
    """`landed`: new digests recorded; `duplicates`: digests already known (or repeated in the input);
    `unrecognized`: landed documents whose format could not be detected."""

    landed: int = 0
    duplicates: int = 0
    unrecognized: int = 0
    # The first LISTED_DOCUMENTS landed: (digest, provider, format, source), for the run's metadata.
    documents: list[tuple[str, str, str, str]] = field(default_factory=list)

    def line(self) -> str:
        return f"Landed {self.landed} VEX documents, {self.duplicates} duplicates, {self.unrecognized} unrecognized."


def digest_of(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def raw_document(
    content: bytes,
    source_uri: str,
    retrieved_at: dt.datetime,
    *,
    provider: str | None = None,
    format: str | None = None,
    signature: Any = None,
) -> RawDocument:
    """A raw document from its bytes: digest, and format / provider detected when not given."""
    if format is not None and format not in FORMATS:
        raise VexError(f"format: {format!r} is not one of {', '.join(FORMATS)}")
    if retrieved_at.tzinfo is None:
        raise VexError(f"retrieved_at: {retrieved_at.isoformat()} has no time zone")
    try:
        parsed = parse_header(content)
    except DocumentError:
        parsed = None
    return RawDocument(
        digest=digest_of(content),
        provider=(provider or provider_of(parsed) or UNKNOWN_PROVIDER)[:200],
        format=format or detect_format(parsed),
        source_uri=source_uri[:2000],
        retrieved_at=retrieved_at,
        content=content,
        signature=signature,
    )


def land(database: Database, documents: Iterable[RawDocument], *, batch_size: int = LANDING_BATCH) -> LandingSummary:
    """Record documents whose digest is new, one transaction per batch."""
    summary = LandingSummary()
    iterator = iter(documents)
    while batch := list(islice(iterator, batch_size)):
        unique = list({d.digest: d for d in batch}.values())
        with database.begin() as conn:
            inserted = set(_insert_new_digests(conn, [d.row() for d in unique]))
        summary.landed += len(inserted)
        summary.duplicates += len(batch) - len(inserted)
        summary.unrecognized += sum(1 for d in unique if d.digest in inserted and d.format is None)
        room = LISTED_DOCUMENTS - len(summary.documents)
        summary.documents += [
            (d.digest, d.provider, d.format or "unrecognized", d.source_uri) for d in unique if d.digest in inserted
        ][:max(room, 0)]
    return summary


def _insert_new_digests(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[str]:
    """INSERT ... ON CONFLICT (digest) DO NOTHING RETURNING digest: concurrent landings of one digest
    cannot both insert it."""
    if not rows:
        return []
    statement = insert_skipping_conflicts(conn, vex_raw_documents, ["digest"]).returning(vex_raw_documents.c.digest)
    return list(conn.execute(statement, list(rows)).scalars())


def land_inbox(
    database: Database,
    store: ObjectStore,
    *,
    prefix: str = INBOX_PREFIX,
    provider: str | None = None,
    now: dt.datetime | None = None,
) -> LandingSummary:
    """Land every object under `prefix`, then move it (and its signature sidecar) to `vex/landed/`."""
    retrieved_at = now or dt.datetime.now(dt.timezone.utc)
    keys = [info.key for info in store.list(prefix) if not info.key.endswith(SIGNATURE_SUFFIX)]
    # Every sidecar is read and checked before anything lands: a bad one refuses the whole landing.
    signatures = {
        key: _signature(store.get_bytes(key + SIGNATURE_SUFFIX), key)
        for key in keys
        if store.exists(key + SIGNATURE_SUFFIX)
    }
    summary = LandingSummary()
    for start in range(0, len(keys), LANDING_BATCH):
        chunk = keys[start : start + LANDING_BATCH]
        documents = [
            raw_document(
                store.get_bytes(key),
                f"{store.describe().rstrip('/')}/{key}",
                retrieved_at,
                provider=provider,
                signature=signatures.get(key),
            )
            for key in chunk
        ]
        _add(summary, land(database, documents))
        # Only after the batch is committed: a crash in between re-lands known digests, which are skipped.
        for key in chunk:
            target = LANDED_PREFIX + key[len(prefix) :] if key.startswith(prefix) else LANDED_PREFIX + key
            store.move(key, target)
            if store.exists(key + SIGNATURE_SUFFIX):
                store.move(key + SIGNATURE_SUFFIX, target + SIGNATURE_SUFFIX)
    return summary


def land_paths(
    database: Database,
    paths: Sequence[str | Path],
    *,
    provider: str | None = None,
    now: dt.datetime | None = None,
) -> LandingSummary:
    """Land local files (folders: every `*.json` below them). Files stay where they are."""
    files = list(files_to_land(paths))
    retrieved_at = now or dt.datetime.now(dt.timezone.utc)
    # Every sidecar is read and checked before anything lands: a bad one refuses the whole landing.
    signatures = {}
    for path in files:
        sidecar = path.with_name(path.name + SIGNATURE_SUFFIX)
        if sidecar.is_file():
            signatures[path] = _signature(sidecar.read_bytes(), str(path))

    def documents() -> Iterator[RawDocument]:
        for path in files:
            yield raw_document(
                path.read_bytes(), path.resolve().as_uri(), retrieved_at, provider=provider, signature=signatures.get(path)
            )

    return land(database, documents())


def files_to_land(paths: Sequence[str | Path]) -> Iterator[Path]:
    """The files `paths` name (folders: their `*.json`, sidecars excepted); a missing path is a VexError."""
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*.json") if p.is_file() and not p.name.endswith(SIGNATURE_SUFFIX))
        else:
            raise VexError(f"paths: {str(raw)!r} is neither a file nor a folder")


def _signature(content: bytes, document: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise VexError(f"signature of {document!r}: {SIGNATURE_SUFFIX} sidecar is not a JSON object")
    if _has_nul(value):
        raise VexError(
            f"signature of {document!r}: {SIGNATURE_SUFFIX} sidecar holds a \\u0000 or a lone surrogate,"
            " which JSON columns cannot store"
        )
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _add(total: LandingSummary, part: LandingSummary) -> None:
    total.landed += part.landed
    total.duplicates += part.duplicates
    total.unrecognized += part.unrecognized
