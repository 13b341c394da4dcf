import sqlalchemy as sa

from pipelines.posture.sample_catalog import CatalogShape, lite_objects, write_catalog
from pipelines.posture.tables import component_instance_responsibility_fulfillments as cirfs, services


def test_the_catalog_is_realistic_repeatable_and_written_once(database):
    shape = CatalogShape(services=20, responsibilities_per_component=10)

    first = write_catalog(database, shape)
    second = write_catalog(database, shape)

    assert (first.services, first.responsibilities) == (20, 20)
    assert first.responsibilities_assigned == 10 * first.component_instances
    assert 0.04 < first.failing_fulfillments / first.fulfillments < 0.08
    assert second.skipped and second.component_instances == 0
    with database.begin() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(cirfs)) == first.fulfillments
        assert conn.scalar(sa.select(services.c.name).order_by(services.c.id).limit(1)) == "payments-api"


def test_lite_objects_are_exactly_as_many_as_asked_with_a_failing_share():
    shape = CatalogShape.for_objects(5000)
    objects = list(lite_objects(shape, 5000))
    assert len(objects) == 5000
    assert len({tuple(o.values()) for o in objects}) == 5000
    assert 400 < sum(o["status"] == "FAILING" for o in objects) < 600
    assert objects == list(lite_objects(shape, 5000))
