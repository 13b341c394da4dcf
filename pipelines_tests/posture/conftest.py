"""Posture fixtures: a small hand-made catalog, and a way to add orchestrator CIRs to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.core.database import Database
from pipelines.posture.documents import export_object
from pipelines.posture.tables import (
    boundaries,
    component_instance_responsibilities,
    component_instance_responsibility_fulfillments,
    component_instances,
    components,
    responsibilities,
    services,
)

SERVICES = ("my-service", "other-service")
COMPONENTS = ("SERVICE", "APP", "DB")
BOUNDARIES = ("PRODUCTION", "STAGING")
RESPONSIBILITIES = ("security-control-001", "security-control-002", "security-control-003")


@dataclass
class Catalog:
    """The hand-made catalog; `cirs(...)` adds orchestrator CIs with one CIR each."""

    database: Database

    def id_of(self, table: sa.Table, key: str) -> int:
        column = table.c.name if table is services else table.c.slug
        with self.database.begin() as conn:
            return conn.scalar(sa.select(table.c.id).where(column == key))

    def service_instance(self, service: str, boundary: str, created_by: str = "orchestrator") -> int:
        """The SERVICE CI of a service in a boundary (the parent of its other CIs)."""
        row = {
            "name": f"SERVICE-{service}-{boundary.lower()}",
            "service_id": self.id_of(services, service),
            "component_id": self.id_of(components, "SERVICE"),
            "boundary_id": self.id_of(boundaries, boundary),
            "created_by": created_by,
        }
        with self.database.begin() as conn:
            return conn.execute(component_instances.insert().returning(component_instances.c.id), row).scalar_one()

    def cirs(
        self,
        service: str,
        responsibility: str,
        boundary: str,
        component: str,
        *,
        passing: int = 0,
        failing: int = 0,
        unfulfilled: int = 0,
        mixed: int = 0,
        created_by: str = "orchestrator",
        parent_id: int | None = None,
    ) -> None:
        """CIs with one CIR each: `passing` / `failing` with one fulfillment, `unfulfilled` with none,
        `mixed` with a PASSING and a FAILING fulfillment."""
        ids = {
            "service_id": self.id_of(services, service),
            "component_id": self.id_of(components, component),
            "boundary_id": self.id_of(boundaries, boundary),
        }
        responsibility_id = self.id_of(responsibilities, responsibility)
        plan = [["PASSING"]] * passing + [["FAILING"]] * failing + [[]] * unfulfilled + [["PASSING", "FAILING"]] * mixed
        with self.database.begin() as conn:
            start = conn.scalar(sa.select(sa.func.count()).select_from(component_instances))
            for number, statuses in enumerate(plan, start=start + 1):
                ci_id = conn.execute(
                    component_instances.insert().returning(component_instances.c.id),
                    {**ids, "name": f"{component}-{service}-{responsibility}-{number}", "parent_id": parent_id,
                     "created_by": created_by},
                ).scalar_one()
                cir_id = conn.execute(
                    component_instance_responsibilities.insert().returning(component_instance_responsibilities.c.id),
                    {"component_instance_id": ci_id, "responsibility_id": responsibility_id, "created_by": created_by},
                ).scalar_one()
                if statuses:
                    conn.execute(
                        component_instance_responsibility_fulfillments.insert(),
                        [{"component_instance_responsibility_id": cir_id, "status": s, "created_by": created_by}
                         for s in statuses],
                    )


@pytest.fixture(autouse=True)
def upload_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The tests' documents are written under tmp_path: it is the allowed upload folder (the
    confinement itself is tested with PIPELINES_UPLOAD_DIRS unset or set elsewhere)."""
    monkeypatch.setenv("PIPELINES_UPLOAD_DIRS", str(tmp_path))
    return tmp_path


@pytest.fixture
def catalog(database: Database) -> Catalog:
    with database.begin() as conn:
        conn.execute(services.insert(), [{"name": name} for name in SERVICES])
        conn.execute(components.insert(), [{"slug": slug, "name": slug.title()} for slug in COMPONENTS])
        conn.execute(boundaries.insert(), [{"slug": slug, "name": slug.title()} for slug in BOUNDARIES])
        conn.execute(responsibilities.insert(), [{"slug": slug, "title": slug} for slug in RESPONSIBILITIES])
    return Catalog(database)


def lite_object(
    service: str = "my-service",
    responsibility: str = "security-control-001",
    status: str = "FAILING",
    boundary: str = "PRODUCTION",
    component: str = "APP",
) -> dict[str, str]:
    """The seed's example object, with any field changed."""
    return export_object(responsibility, service, status, boundary, component)


def write_document(path: Path, objects: list, **extra: object) -> Path:
    path.write_text(json.dumps({"liteDynamicStateObjects": objects, **extra}), encoding="utf-8")
    return path


def table_counts(database: Database) -> dict[str, int]:
    """Rows per CI / CIR / CIRF table, split by creator."""
    counts = {}
    with database.begin() as conn:
        for table in (component_instances, component_instance_responsibilities,
                      component_instance_responsibility_fulfillments):
            for created_by, count in conn.execute(
                sa.select(table.c.created_by, sa.func.count()).group_by(table.c.created_by)
            ):
                counts[f"{table.name}:{created_by}"] = count
    return counts
