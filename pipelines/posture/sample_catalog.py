"""Realistic compliance catalog data: the one generator the demo, the tests and the benchmark share.

Services (`payments-api`, `ledger-worker-7`, ...) each run in PRODUCTION and STAGING as a SERVICE
component instance with APP (1-3 replicas) and, for some, DB, QUEUE and CACHE instances below it.
Every instance carries its component's responsibilities (`security-control-001`, ...) as CIRs
written by the orchestrator; most CIRs have one fulfillment, some two, a few none yet, and about
`failing_share` of the fulfillments fail. Everything is derived from `seed`, so runs repeat.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipelines.core.database import Database
from pipelines.posture.documents import export_object
from pipelines.posture.lite_import import CI_COLUMNS, CIR_COLUMNS, CIRF_COLUMNS, IdAllocator
from pipelines.posture.tables import (
    boundaries,
    component_instance_responsibilities as cir_table,
    component_instance_responsibility_fulfillments as cirf_table,
    component_instances as ci_table,
    components,
    responsibilities,
    services,
)

ORCHESTRATOR = "orchestrator"
COMPONENTS = {"SERVICE": "Service", "APP": "Application", "DB": "Database", "QUEUE": "Message queue", "CACHE": "Cache"}
BOUNDARIES = {"PRODUCTION": "Production", "STAGING": "Staging"}
# Share of services that run each optional component.
OPTIONAL_COMPONENTS = {"DB": 0.6, "QUEUE": 0.3, "CACHE": 0.3}
RESPONSIBILITY_FAMILIES = {
    "security-control": "Security control",
    "access-review": "Quarterly access review",
    "encryption-at-rest": "Encryption at rest",
    "logging-retention": "Audit log retention",
    "vulnerability-scan": "Vulnerability scanning",
    "backup-restore": "Backup and restore test",
    "secrets-rotation": "Secrets rotation",
    "patch-cadence": "Patch cadence",
}
_SERVICE_WORDS = (
    "payments", "checkout", "identity", "search", "billing", "catalog", "inventory", "notifications",
    "shipping", "analytics", "ledger", "pricing", "reporting", "onboarding", "auth", "profile",
)
_SERVICE_SUFFIXES = ("api", "worker", "web", "gateway", "scheduler", "service")
_FLUSH_ROWS = 20_000


@dataclass(frozen=True)
class CatalogShape:
    services: int
    responsibilities_per_component: int = 40
    failing_share: float = 0.06
    unfulfilled_share: float = 0.02
    seed: int = 7

    @classmethod
    def for_objects(cls, objects: int, **kwargs: object) -> CatalogShape:
        """A shape whose aggregate holds at least `objects` rows (about 256 per service)."""
        shape = cls(services=1, **kwargs)  # type: ignore[arg-type]
        per_service = len(BOUNDARIES) * (2 + sum(OPTIONAL_COMPONENTS.values())) * shape.responsibilities_per_component
        return cls(services=math.ceil(objects / per_service * 1.1) + 1, **kwargs)  # type: ignore[arg-type]

    def service_names(self) -> list[str]:
        base = [f"{word}-{suffix}" for suffix in _SERVICE_SUFFIXES for word in _SERVICE_WORDS]
        return [base[i] if i < len(base) else f"{base[i % len(base)]}-{i // len(base)}" for i in range(self.services)]

    def responsibility_slugs(self) -> list[str]:
        """A pool; component kind k takes `responsibilities_per_component` of it from offset 2k."""
        size = self.responsibilities_per_component + 2 * len(COMPONENTS)
        families = list(RESPONSIBILITY_FAMILIES)
        return [f"{families[i % len(families)]}-{i // len(families) + 1:03d}" for i in range(size)]

    def component_responsibilities(self, component: str) -> list[str]:
        offset = 2 * list(COMPONENTS).index(component)
        return self.responsibility_slugs()[offset : offset + self.responsibilities_per_component]


@dataclass(frozen=True)
class _Placement:
    service: str
    boundary: str
    component: str
    replicas: int


def layout(shape: CatalogShape) -> Iterator[_Placement]:
    """Which components each service runs in each boundary, and how many instances of each."""
    for service in shape.service_names():
        rng = random.Random(f"{shape.seed}:{service}")
        running = ["SERVICE", "APP"] + [c for c, share in OPTIONAL_COMPONENTS.items() if rng.random() < share]
        replicas = {"SERVICE": 1, "APP": rng.randint(1, 3), "DB": rng.randint(1, 2), "QUEUE": 1, "CACHE": 1}
        for boundary in BOUNDARIES:
            for component in running:
                yield _Placement(service, boundary, component, replicas[component])


def lite_objects(shape: CatalogShape, count: int, failing_share: float = 0.1) -> Iterator[dict[str, str]]:
    """`count` ExportedLiteDynamicStateObjects over the shape's catalog, about `failing_share` FAILING."""
    rng = random.Random(f"{shape.seed}:lite-objects")
    produced = 0
    for place in layout(shape):
        for slug in shape.component_responsibilities(place.component):
            if produced == count:
                return
            status = "FAILING" if rng.random() < failing_share else "PASSING"
            yield export_object(slug, place.service, status, place.boundary, place.component)
            produced += 1
    if produced < count:
        raise ValueError(f"the shape holds {produced} objects, {count} were asked: use CatalogShape.for_objects")


@dataclass
class CatalogCounts:
    services: int = 0
    responsibilities: int = 0
    component_instances: int = 0
    responsibilities_assigned: int = 0
    fulfillments: int = 0
    failing_fulfillments: int = 0
    skipped: bool = False


def write_catalog(database: Database, shape: CatalogShape) -> CatalogCounts:
    """Write the shape's catalog and the orchestrator's CI / CIR / CIRF, in one transaction.

    Catalog rows that exist are kept (get or create); the instances are written once (a second call
    with the same shape finds them and writes nothing more).
    """
    counts = CatalogCounts()
    with database.begin() as conn:
        ids = _write_dimensions(conn, shape, counts)
        first = next(layout(shape))
        first_name = _instance_name(first.component, first.service, first.boundary, 1)
        if conn.scalar(sa.select(sa.func.count()).where(ci_table.c.name == first_name)):
            counts.skipped = True
            return counts
        _write_instances(database, conn, shape, ids, counts)
    return counts


def _write_dimensions(conn: Connection, shape: CatalogShape, counts: CatalogCounts) -> dict[str, dict[str, int]]:
    families = list(RESPONSIBILITY_FAMILIES.values())
    wanted = {
        "services": (services, "name", {name: None for name in shape.service_names()}),
        "components": (components, "slug", COMPONENTS),
        "boundaries": (boundaries, "slug", BOUNDARIES),
        "responsibilities": (
            responsibilities,
            "slug",
            {slug: f"{families[i % len(families)]} {i // len(families) + 1}" for i, slug in enumerate(shape.responsibility_slugs())},
        ),
    }
    ids: dict[str, dict[str, int]] = {}
    for what, (table, key, labels) in wanted.items():
        existing = _ids_of(conn, table, key, list(labels))
        label_column = next((c.name for c in table.c if c.name not in ("id", key)), None)
        missing = [{key: k, label_column: v or k} if label_column else {key: k} for k, v in labels.items() if k not in existing]
        if missing:
            conn.execute(table.insert(), missing)
            existing = _ids_of(conn, table, key, list(labels))
        ids[what] = existing
    counts.services = len(ids["services"])
    counts.responsibilities = len(ids["responsibilities"])
    return ids


def _ids_of(conn: Connection, table: sa.Table, key: str, values: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(values), 500):
        query = sa.select(table.c[key], table.c.id).where(table.c[key].in_(values[start : start + 500]))
        found.update({k: i for k, i in conn.execute(query)})
    return found


def _instance_name(component: str, service: str, boundary: str, replica: int) -> str:
    return f"{component}-{service}-{boundary.lower()}-{replica}"


def _write_instances(
    database: Database, conn: Connection, shape: CatalogShape, ids: dict[str, dict[str, int]], counts: CatalogCounts
) -> None:
    ci_ids = IdAllocator(conn, ci_table, 10_000)
    cir_ids = IdAllocator(conn, cir_table, 10_000)
    cirf_ids = IdAllocator(conn, cirf_table, 10_000)
    rng = random.Random(f"{shape.seed}:fulfillments")
    ci_rows: list[tuple] = []
    cir_rows: list[tuple] = []
    cirf_rows: list[tuple] = []
    parents: dict[tuple[str, str], int] = {}

    def flush() -> None:
        counts.component_instances += database.bulk_insert(conn, ci_table, ci_rows, columns=CI_COLUMNS)
        counts.responsibilities_assigned += database.bulk_insert(conn, cir_table, cir_rows, columns=CIR_COLUMNS)
        counts.fulfillments += database.bulk_insert(conn, cirf_table, cirf_rows, columns=CIRF_COLUMNS)
        ci_rows.clear(), cir_rows.clear(), cirf_rows.clear()

    for place in layout(shape):
        slugs = [ids["responsibilities"][s] for s in shape.component_responsibilities(place.component)]
        for replica in range(1, place.replicas + 1):
            ci_id = ci_ids.next()
            parent = parents.get((place.service, place.boundary)) if place.component != "SERVICE" else None
            if place.component == "SERVICE":
                parents[(place.service, place.boundary)] = ci_id
            ci_rows.append((
                ci_id, _instance_name(place.component, place.service, place.boundary, replica),
                ids["services"][place.service], ids["components"][place.component],
                ids["boundaries"][place.boundary], parent, ORCHESTRATOR,
            ))
            for responsibility_id in slugs:
                cir_id = cir_ids.next()
                cir_rows.append((cir_id, ci_id, responsibility_id, ORCHESTRATOR))
                draw = rng.random()
                fulfillments = 0 if draw < shape.unfulfilled_share else (2 if draw > 0.92 else 1)
                for _ in range(fulfillments):
                    failing = rng.random() < shape.failing_share
                    counts.failing_fulfillments += failing
                    cirf_rows.append((cirf_ids.next(), cir_id, "FAILING" if failing else "PASSING", ORCHESTRATOR))
        if len(cir_rows) >= _FLUSH_ROWS:
            flush()
    flush()
