"""The seed's three stages on both backends: creation in dependency order, in waves, and the errors."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipelines.import_batches.creators import REGISTRY, ImportCreators, Wave
from pipelines.import_batches.processing import batch_state, load_batch, process_batch
from pipelines.import_batches.tables import (
    import_awaiting_steps,
    import_batches,
    import_object_targets,
    import_pending_links,
    import_pending_objects,
)
from pipelines.posture.tables import (
    component_instance_responsibilities as cir,
)
from pipelines.posture.tables import component_instances as cis
from pipelines.posture.tables import responsibilities, services

from .conftest import catalog_roots, ci, link, obj, rows

NOTHING = {"pending": 0, "awaiting": 0, "creating": 0, "complete": 0, "error": 0}


def waves_of(database, batch_id: str = "b1") -> dict[str, int]:
    """The wave that created each object: wave n creates level n - 1."""
    return dict(rows(database, sa.select(import_pending_objects.c.pending_object_id, import_pending_objects.c.level + 1)))


def ci_rows(database) -> list[tuple]:
    p = cis.alias("p")
    return rows(
        database,
        sa.select(cis.c.name, p.c.name, cis.c.created_by)
        .select_from(cis.outerjoin(p, p.c.id == cis.c.parent_id))
        .order_by(cis.c.name),
    )


def test_a_three_level_chain_is_created_parent_first_one_wave_per_level(database, local_store, put):
    a, la = ci("a", "ci-a")
    b, lb = ci("b", "ci-b")
    c, lc = ci("c", "ci-c")
    put("b1", [c, b, a, *catalog_roots()], [*lc, *lb, *la, link("c-b", "ci_parent", "c", "b"), link("b-a", "ci_parent", "b", "a")])

    state = process_batch(database, local_store, "b1")

    assert (state.status, state.waves, state.errors) == ("complete", 4, [])
    assert state.objects == {**NOTHING, "complete": 6}
    assert state.links == {**NOTHING, "complete": 11}
    assert waves_of(database) == {"svc": 1, "cmp": 1, "bnd": 1, "a": 2, "b": 3, "c": 4}
    assert ci_rows(database) == [
        ("ci-a", None, "import-batch:b1"),
        ("ci-b", "ci-a", "import-batch:b1"),
        ("ci-c", "ci-b", "import-batch:b1"),
    ]
    assert rows(database, sa.select(sa.func.count()).select_from(import_awaiting_steps)) == [(0,)]


def test_a_child_with_two_dependent_parents_waits_for_both_and_gets_both_ids(database, local_store, put):
    parent, lp = ci("parent", "ci-parent")
    child, lc = ci("child", "ci-child")
    put("b1", [*catalog_roots(), parent, child], [*lp, *lc, link("child-parent", "ci_parent", "child", "parent")])

    state = process_batch(database, local_store, "b1")

    assert state.status == "complete"
    assert waves_of(database) == {"svc": 1, "cmp": 1, "bnd": 1, "parent": 2, "child": 3}
    child_row = rows(
        database,
        sa.select(services.c.name, cis.c.parent_id == sa.select(cis.c.id).where(cis.c.name == "ci-parent").scalar_subquery())
        .select_from(cis.join(services, services.c.id == cis.c.service_id))
        .where(cis.c.name == "ci-child"),
    )
    assert child_row == [("payments", True)]


def test_independent_links_are_created_once_both_ends_are_complete(database, local_store, put):
    a, la = ci("a", "ci-a")
    b, lb = ci("b", "ci-b")
    responsibility = obj("r", "responsibility", slug="enc", title="Encrypt at rest")
    put(
        "b1",
        [*catalog_roots(), a, b, responsibility],
        [
            *la,
            *lb,
            link("b-a", "ci_parent", "b", "a"),
            link("a-r", "ci_responsibility", "a", "r", "Independent"),
            link("b-r", "ci_responsibility", "b", "r", "Independent"),
        ],
    )

    state = process_batch(database, local_store, "b1")

    assert (state.status, state.waves) == ("complete", 3)
    got = rows(
        database,
        sa.select(cis.c.name, responsibilities.c.slug, cir.c.created_by)
        .select_from(cir.join(cis, cis.c.id == cir.c.component_instance_id).join(responsibilities, responsibilities.c.id == cir.c.responsibility_id))
        .order_by(cis.c.name),
    )
    assert got == [("ci-a", "enc", "import-batch:b1"), ("ci-b", "enc", "import-batch:b1")]
    link_targets = rows(
        database,
        sa.select(import_pending_links.c.pending_link_id, import_pending_links.c.target_id.is_not(None))
        .where(import_pending_links.c.link_type == "Independent")
        .order_by(import_pending_links.c.pending_link_id),
    )
    assert link_targets == [("a-r", True), ("b-r", True)]


def test_an_object_that_already_exists_is_complete_at_once_with_its_id(database, local_store, put):
    with database.begin() as conn:
        existing_id = conn.execute(services.insert().values(name="payments").returning(services.c.id)).scalar_one()
    a, la = ci("a", "ci-a")
    put("b1", [*catalog_roots(), a], la)

    state = process_batch(database, local_store, "b1")

    assert (state.status, state.existing_objects) == ("complete", 1)
    assert rows(database, sa.select(services.c.id, services.c.name)) == [(existing_id, "payments")]
    assert rows(
        database,
        sa.select(import_pending_objects.c.existed, import_object_targets.c.target_id)
        .select_from(import_pending_objects.join(import_object_targets, import_object_targets.c.object_id == import_pending_objects.c.id))
        .where(import_pending_objects.c.pending_object_id == "svc"),
    ) == [(True, existing_id)]
    assert rows(database, sa.select(cis.c.service_id)) == [(existing_id,)]


def awaiting_steps(database) -> list[tuple]:
    """The view's steps, named by pending ids: (step, waiting object or link, awaited object or link)."""
    steps = import_awaiting_steps
    waiting_o, awaited_o = import_pending_objects.alias("wo"), import_pending_objects.alias("ao")
    waiting_l, awaited_l = import_pending_links.alias("wl"), import_pending_links.alias("al")
    statement = sa.select(
        steps.c.step,
        sa.func.coalesce(waiting_o.c.pending_object_id, waiting_l.c.pending_link_id),
        sa.func.coalesce(awaited_o.c.pending_object_id, awaited_l.c.pending_link_id),
    ).select_from(
        steps.outerjoin(waiting_o, waiting_o.c.id == steps.c.waiting_object_id)
        .outerjoin(waiting_l, waiting_l.c.id == steps.c.waiting_link_id)
        .outerjoin(awaited_o, awaited_o.c.id == steps.c.awaited_object_id)
        .outerjoin(awaited_l, awaited_l.c.id == steps.c.awaited_link_id)
    )
    return sorted(rows(database, statement), key=lambda r: (r[0], r[1] or "", r[2]))


def test_the_seeds_awaiting_steps_are_released_wave_by_wave(database, local_store, put):
    a, la = ci("a", "ci-a")
    b, lb = ci("b", "ci-b")
    r = obj("r", "responsibility", slug="enc", title="Encrypt at rest")
    more = [link("b-a", "ci_parent", "b", "a"), link("b-r", "ci_responsibility", "b", "r", "Independent")]
    put("b1", [*catalog_roots(), r, a, b], [*la, *lb, *more])
    seen: dict[int, list[tuple]] = {}

    def look(wave: int, _: int) -> None:
        seen[wave] = awaiting_steps(database)

    state = process_batch(database, local_store, "b1", on_wave=look)

    assert state.status == "complete"
    b_links = ["b-a", "b-bnd", "b-cmp", "b-r", "b-svc"]
    # Wave 1 created the roots (svc, cmp, bnd, r): a can be created, b still waits for a.
    assert seen[1] == sorted(
        [
            ("DependentPendingLink", "a-bnd", "a"), ("DependentPendingLink", "a-cmp", "a"),
            ("DependentPendingLink", "a-svc", "a"), ("DependentPendingLink", "b-a", "b"),
            ("DependentPendingLink", "b-bnd", "b"), ("DependentPendingLink", "b-cmp", "b"),
            ("DependentPendingLink", "b-svc", "b"), ("DependentPendingObject", "b", "a"),
            ("ImportBatchMain", None, "a"), ("ImportBatchMain", None, "a-bnd"), ("ImportBatchMain", None, "a-cmp"),
            ("ImportBatchMain", None, "a-svc"), ("ImportBatchMain", None, "b"),
            *(("ImportBatchMain", None, name) for name in b_links),
            ("IndependentPendingLink", "b-r", "b"),
        ],
        key=lambda r: (r[0], r[1] or "", r[2]),
    )
    # Wave 2 created a: what is left waits for b.
    assert seen[2] == sorted(
        [
            *(("DependentPendingLink", name, "b") for name in ("b-a", "b-bnd", "b-cmp", "b-svc")),
            ("ImportBatchMain", None, "b"),
            *(("ImportBatchMain", None, name) for name in b_links),
            ("IndependentPendingLink", "b-r", "b"),
        ],
        key=lambda r: (r[0], r[1] or "", r[2]),
    )
    assert seen[3] == []


class RecordingCreators(ImportCreators):
    """The default creators, noting which link tags they were asked to create."""

    def ci_parent(self, wave: Wave) -> None:
        calls.append(("ci_parent", wave.number))
        super().ci_parent(wave)


calls: list[tuple[str, int]] = []


def test_separate_dependent_link_create_sets_the_parent_after_the_child_is_created(database, local_store, put):
    calls.clear()
    a, la = ci("a", "ci-a")
    b, lb = ci("b", "ci-b")
    put("b1", [*catalog_roots(), a, b], [*la, *lb, link("b-a", "ci_parent", "b", "a", separate=True)])

    state = process_batch(database, local_store, "b1", RecordingCreators())

    assert state.status == "complete"
    assert calls == [("ci_parent", 3)]
    assert ci_rows(database) == [("ci-a", None, "import-batch:b1"), ("ci-b", "ci-a", "import-batch:b1")]


def test_separate_dependent_link_attaches_a_new_parent_to_an_existing_child(database, local_store, put):
    a, la = ci("a", "ci-a")
    put("b0", [*catalog_roots(), a], la)
    assert process_batch(database, local_store, "b0").status == "complete"
    root, lr = ci("root", "ci-root")
    again = obj("a", "component_instance", name="ci-a")
    put("b1", [*catalog_roots(), root, again], [*lr, link("a-root", "ci_parent", "a", "root", separate=True)])

    state = process_batch(database, local_store, "b1")

    assert (state.status, state.existing_objects) == ("complete", 4)
    assert ci_rows(database) == [("ci-a", "ci-root", "import-batch:b0"), ("ci-root", None, "import-batch:b1")]


def test_a_dependent_link_to_an_existing_child_needs_a_separate_create(database, local_store, put):
    a, la = ci("a", "ci-a")
    put("b0", [*catalog_roots(), a], la)
    process_batch(database, local_store, "b0")
    root, lr = ci("root", "ci-root")
    put("b1", [*catalog_roots(), root, obj("a", "component_instance", name="ci-a")], [*lr, link("a-root", "ci_parent", "a", "root")])

    state = process_batch(database, local_store, "b1")

    assert state.status == "error"
    assert state.errors == [
        "links line 4: objectId 'a' already exists as a component_instance; a Dependent link to an existing "
        "object needs separateDependentLinkCreate true"
    ]


def assert_nothing_created(database, batch_id: str = "b1") -> None:
    assert rows(database, sa.select(sa.func.count()).select_from(services)) == [(0,)]
    assert rows(database, sa.select(sa.func.count()).select_from(cis)) == [(0,)]
    assert rows(database, sa.select(sa.func.count()).select_from(import_awaiting_steps)) == [(0,)]


def _one_ci_with(*extra_links: dict) -> tuple[list, list]:
    a, la = ci("a", "ci-a")
    return [*catalog_roots(), a], [*la, *extra_links]


def _two_cis_with(*extra_links: dict) -> tuple[list, list]:
    a, la = ci("a", "ci-a")
    b, lb = ci("b", "ci-b")
    return [*catalog_roots(), a, b], [*la, *lb, *extra_links]


@pytest.mark.parametrize(
    ("batch", "errors"),
    [
        pytest.param(
            _one_ci_with(link("a-x", "ci_parent", "a", "nowhere")),
            ["links line 4: referenceId 'nowhere' names no object of the batch"],
            id="invalid-reference",
        ),
        pytest.param(
            _one_ci_with(link("x-a", "ci_parent", "ghost", "a")),
            ["links line 4: objectId 'ghost' names no object of the batch"],
            id="invalid-child-of-a-dependent-link",
        ),
        pytest.param(
            _one_ci_with(link("svc-cmp", "ci_service", "cmp", "svc")),
            [
                "links line 4: linkTag 'ci_service' is not allowed from a component (child) to a service "
                "(parent); it links a component_instance child to a service parent"
            ],
            id="link-tag-between-wrong-types",
        ),
        pytest.param(
            _one_ci_with(link("a-x", "ci_owner", "a", "svc")),
            [
                "links.jsonl line 4: linkTag 'ci_owner' is not a known tag (one of: ci_service, ci_component, "
                "ci_boundary, ci_parent, ci_responsibility)"
            ],
            id="unknown-link-tag",
        ),
        pytest.param(
            (
                [
                    *catalog_roots(),
                    obj("a", "component_instance", name="ci-a"),
                    obj("b", "component_instance", name="ci-b"),
                    obj("c", "component_instance", name="ci-c"),
                ],
                [link("b-svc", "ci_service", "b", "svc"), link("b-cmp", "ci_component", "b", "cmp"),
                 link("c-bnd", "ci_boundary", "c", "bnd")],
            ),
            [
                "objects line 4: component_instance 'a' has no 'ci_service' link (required to create it)",
                "objects line 6: component_instance 'c' has no 'ci_service' link (required to create it)",
                "objects line 4: component_instance 'a' has no 'ci_component' link (required to create it)",
                "objects line 6: component_instance 'c' has no 'ci_component' link (required to create it)",
                "objects line 4: component_instance 'a' has no 'ci_boundary' link (required to create it)",
                "objects line 5: component_instance 'b' has no 'ci_boundary' link (required to create it)",
            ],
            id="required-links-missing-listed-tag-by-tag",
        ),
        pytest.param(
            _two_cis_with(link("a-b", "ci_parent", "a", "b"), link("b-a", "ci_parent", "b", "a")),
            [
                "cycle: Dependent links make these objects wait, directly or not, on themselves: "
                "'a' (objects line 4), 'b' (objects line 5)"
            ],
            id="cycle-is-an-error-not-a-hang",
        ),
    ],
)
def test_a_batch_in_error_lists_its_errors_and_creates_nothing(database, local_store, put, batch, errors):
    put("b1", *batch)

    state = process_batch(database, local_store, "b1")

    assert (state.status, state.errors) == ("error", errors)
    assert state.objects["complete"] == 0
    assert_nothing_created(database)


def test_csv_files_are_read_like_json_lines(database, local_store, put):
    a, la = ci("a", "ci-a")
    put("b1", [*catalog_roots(), a], [*la, link("a-x", "ci_parent", "a", "a", separate=False)], fmt="csv")
    b, lb = ci("b", "ci-b")
    put("b2", [*catalog_roots(), b], lb, fmt="csv")

    assert process_batch(database, local_store, "b1").errors == [
        "cycle: Dependent links make these objects wait, directly or not, on themselves: 'a' (objects line 5)"
    ]
    assert process_batch(database, local_store, "b2").status == "complete"
    assert ci_rows(database) == [("ci-b", None, "import-batch:b2")]


def test_invalid_fields_are_listed_with_file_line_field_and_value(database, local_store, put):
    put(
        "b1",
        [
            obj("svc", "service", name="payments"),
            obj("svc", "service", name="billing"),
            obj("x", "servce", name="x"),
            obj("cmp", "component", slug="api"),
            {"pendingObjectId": "r", "objectType": "responsibility", "slug": "a", "title": "A", "owner": "me"},
        ],
        [{**link("l1", "ci_service", "a", "svc"), "linkType": "Strong"}],
    )

    state = process_batch(database, local_store, "b1")

    assert state.status == "error"
    assert state.errors == [
        "objects.jsonl line 2: pendingObjectId 'svc' repeats line 1",
        "objects.jsonl line 3: objectType 'servce' is not a known type (one of: service, component, boundary, "
        "responsibility, component_instance)",
        "objects.jsonl line 4: name is missing",
        "objects.jsonl line 5: field 'owner' (value 'me') is not a field of responsibility (expected: "
        "objectType, pendingObjectId, slug, title)",
        "links.jsonl line 1: linkType 'Strong' is not Dependent or Independent",
    ]


def test_batch_state_of_an_unknown_batch_is_an_error(database):
    from pipelines.import_batches.errors import ImportBatchError

    with pytest.raises(ImportBatchError, match=r"^batch 'nope' is unknown: submit it with `pipelines imports submit DIR`$"):
        batch_state(database, "nope")


# The load keeps nothing per record: repeats are found by queries after each file's COPY, and the links'
# ends by a join on the batch's objects.


def staged_counts(database) -> list[tuple]:
    return [rows(database, sa.select(sa.func.count()).select_from(t))[0] for t in (import_pending_objects, import_pending_links)]


def test_a_pending_object_id_repeated_far_apart_is_found_after_the_copy_naming_both_lines(database, local_store, put):
    services_ = [obj(f"s{i}", "service", name=f"service {i}") for i in range(3000)]
    put("b1", [*services_, obj("s7", "service", name="late"), obj("s7", "service", name="later")])

    state = process_batch(database, local_store, "b1")

    assert (state.status, state.errors) == (
        "error",
        [
            "objects.jsonl line 3001: pendingObjectId 's7' repeats line 8",
            "objects.jsonl line 3002: pendingObjectId 's7' repeats line 8",
        ],
    )
    assert staged_counts(database) == [(0,), (0,)]
    assert_nothing_created(database)


def test_a_natural_key_repeated_in_a_type_is_an_error_but_not_across_types_nor_on_a_repeated_id(
    database, local_store, put
):
    put(
        "b1",
        [
            obj("svc", "service", name="payments"),
            obj("cmp", "component", slug="api", name="API"),
            obj("bnd", "boundary", slug="api", name="API boundary"),  # another type: no repeat
            obj("svc2", "service", name="payments"),
            obj("cmp", "component", slug="web", name="Web"),  # repeats an id: its key is not checked
            obj("cmp3", "component", slug="web", name="Web again"),
        ],
        fmt="csv",
    )

    state = process_batch(database, local_store, "b1")

    assert state.errors == [
        "objects.csv line 5: service name 'payments' repeats line 2",
        "objects.csv line 6: pendingObjectId 'cmp' repeats line 3",
    ]
    assert staged_counts(database) == [(0,), (0,)]


def test_a_repeated_pending_link_id_is_an_error_naming_both_lines(database, local_store, put):
    a, la = ci("a", "ci-a")
    b, lb = ci("b", "ci-b")
    put("b1", [*catalog_roots(), a, b], [*la, *lb, link("a-svc", "ci_parent", "a", "b")], fmt="csv")

    state = process_batch(database, local_store, "b1")

    assert (state.status, state.errors) == ("error", ["links.csv line 8: pendingLinkId 'a-svc' repeats line 2"])
    assert staged_counts(database) == [(0,), (0,)]
    assert_nothing_created(database)


def test_repeats_are_listed_among_the_other_problems_file_by_file_in_line_order(database, local_store, put):
    put(
        "b1",
        [
            obj("svc", "service", name="payments"),
            obj("cmp", "component", slug="api"),
            obj("svc", "service", name="billing"),
            obj("x", "servce", name="x"),
            obj("svc9", "service", name="payments"),
        ],
        [
            link("l1", "ci_service", "a", "svc"),
            link("l1", "ci_service", "b", "svc"),
            {**link("l3", "ci_service", "a", "svc"), "linkType": "Strong"},
        ],
    )

    state = process_batch(database, local_store, "b1")

    assert state.errors == [
        "objects.jsonl line 2: name is missing",
        "objects.jsonl line 3: pendingObjectId 'svc' repeats line 1",
        "objects.jsonl line 4: objectType 'servce' is not a known type (one of: service, component, boundary, "
        "responsibility, component_instance)",
        "objects.jsonl line 5: service name 'payments' repeats line 1",
        "links.jsonl line 2: pendingLinkId 'l1' repeats line 1",
        "links.jsonl line 3: linkType 'Strong' is not Dependent or Independent",
    ]


def test_repeats_beyond_max_errors_are_counted_and_the_first_listed(database, local_store, put):
    put("b1", [obj("svc", "service", name=f"service {i}") for i in range(1003)])

    state = process_batch(database, local_store, "b1")

    assert len(state.errors) == 1001
    assert state.errors[:2] == [
        "objects.jsonl line 2: pendingObjectId 'svc' repeats line 1",
        "objects.jsonl line 3: pendingObjectId 'svc' repeats line 1",
    ]
    assert state.errors[-2:] == ["objects.jsonl line 1001: pendingObjectId 'svc' repeats line 1", "... and 2 more errors"]


def test_the_links_get_the_ids_of_their_ends_and_null_for_a_name_that_is_no_object(database, local_store, put):
    a, la = ci("a", "ci-a")
    put("b1", [*catalog_roots(), a], [*la, link("a-x", "ci_parent", "a", "nowhere")])

    load_batch(database, local_store, "b1", REGISTRY)

    child, parent = import_pending_objects.alias("child"), import_pending_objects.alias("parent")
    links_ = import_pending_links
    ends = rows(
        database,
        sa.select(links_.c.pending_link_id, child.c.pending_object_id, parent.c.pending_object_id, links_.c.line)
        .select_from(
            links_.outerjoin(child, child.c.id == links_.c.child_object_id).outerjoin(
                parent, parent.c.id == links_.c.parent_object_id
            )
        )
        .order_by(links_.c.line),
    )
    assert ends == [("a-svc", "a", "svc", 1), ("a-cmp", "a", "cmp", 2), ("a-bnd", "a", "bnd", 3), ("a-x", "a", None, 4)]
    assert rows(database, sa.select(import_batches.c.status, import_batches.c.object_count, import_batches.c.link_count)) == [
        ("pending", 4, 4)
    ]
    assert process_batch(database, local_store, "b1").errors == [
        "links line 4: referenceId 'nowhere' names no object of the batch"
    ]


def test_a_load_rolled_back_for_repeats_leaves_the_next_loads_working(database, local_store, put):
    a, la = ci("a", "ci-a")
    put("b1", [*catalog_roots(), a], [*la, la[0]])
    put("b2", [*catalog_roots(), a], la)
    put("b3", [*catalog_roots(), a], la, fmt="csv")

    for batch_id in ("b1", "b2", "b3"):
        load_batch(database, local_store, batch_id, REGISTRY)

    batch_rows = sa.select(import_batches.c.batch_id, import_batches.c.status, import_batches.c.errors)
    assert rows(database, batch_rows.order_by(import_batches.c.id)) == [
        ("b1", "error", ["links.jsonl line 4: pendingLinkId 'a-svc' repeats line 1"]),
        ("b2", "pending", None),
        ("b3", "pending", None),
    ]
    assert staged_counts(database) == [(8,), (6,)]
