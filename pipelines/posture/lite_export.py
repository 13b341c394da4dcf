"""`lite_dynamic_state_export`: the aggregate view as ExportedLiteDynamicStateObjects, to the object store.

Reads `responsive_responsibility_aggregate` (joined to the catalog for names and slugs), filtered by
`serviceNames` in SQL when given, streamed with a server-side cursor and written as a stream to
`posture/exports/<UTC timestamp>.json`.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database
from pipelines.core.object_store import ObjectStore
from pipelines.posture.aggregate import aggregate_view, require_populated
from pipelines.posture.documents import ErrorCollector, export_object, write_document
from pipelines.posture.requests import ExportRequest
from pipelines.posture.tables import boundaries, components, responsibilities, services

log = logging.getLogger(__name__)

EXPORT_PREFIX = "posture/exports/"
PREVIEW_ROWS = 10


@dataclass
class ExportResult:
    key: str
    objects: int
    failing: int
    seconds: float
    service_names: list[str] | None
    preview: list[dict[str, str]] = field(default_factory=list)


def export_select(service_names: Sequence[str] | None) -> sa.Select:
    """The view's rows as export fields, in a stable order; filtered by service name in SQL."""
    query = (
        sa.select(
            responsibilities.c.slug.label("responsibility_slug"),
            services.c.name.label("service_name"),
            aggregate_view.c.status,
            boundaries.c.slug.label("boundary_slug"),
            components.c.slug.label("component_slug"),
        )
        .select_from(aggregate_view)
        .join(services, services.c.id == aggregate_view.c.service_id)
        .join(responsibilities, responsibilities.c.id == aggregate_view.c.responsibility_id)
        .join(boundaries, boundaries.c.id == aggregate_view.c.boundary_id)
        .join(components, components.c.id == aggregate_view.c.component_id)
        .order_by(services.c.name, responsibilities.c.slug, boundaries.c.slug, components.c.slug)
    )
    if service_names is not None:
        query = query.where(services.c.name.in_(list(service_names)))
    return query


def count_view_rows(conn: Connection, service_names: Sequence[str] | None) -> int:
    """Rows of the view for the filter: what an export with that filter must hold."""
    query = sa.select(sa.func.count()).select_from(aggregate_view)
    if service_names is not None:
        query = query.join(services, services.c.id == aggregate_view.c.service_id).where(
            services.c.name.in_(list(service_names))
        )
    return int(conn.scalar(query) or 0)


def check_service_names(conn: Connection, service_names: Sequence[str]) -> None:
    known = set(conn.scalars(sa.select(services.c.name).where(services.c.name.in_(list(service_names)))))
    errors = ErrorCollector()
    for index, name in enumerate(service_names):
        if name not in known:
            errors.add(None, f"serviceNames[{index}]", name, "is not a known service")
    errors.raise_if_any("export request")


def new_export_key(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{EXPORT_PREFIX}{now.strftime('%Y%m%dT%H%M%S.%fZ')}.json"


def export_lite_dynamic_state(
    database: Database,
    store: ObjectStore,
    request: ExportRequest,
    *,
    key: str | None = None,
    batch_size: int = 5000,
) -> ExportResult:
    """Write the view (for the request's services) to the object store as one document."""
    started = time.monotonic()
    key = key or new_export_key()
    result = ExportResult(key=key, objects=0, failing=0, seconds=0.0, service_names=request.service_names)
    with database.begin() as conn:
        require_populated(conn)
        if request.service_names is not None:
            check_service_names(conn, request.service_names)

        def objects() -> Iterator[dict[str, str]]:
            for batch in database.stream(conn, export_select(request.service_names), batch_size):
                for row in batch:
                    obj = export_object(*row)
                    if row.status == "FAILING":
                        result.failing += 1
                    if len(result.preview) < PREVIEW_ROWS:
                        result.preview.append(obj)
                    yield obj

        with store.open_write(key) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            result.objects = write_document(text, objects())
            text.flush()
            text.detach()  # the store closes (and uploads) the binary stream itself
    result.seconds = time.monotonic() - started
    log.info("Exported %d lite dynamic objects (%d FAILING) to %s", result.objects, result.failing, key)
    return result
