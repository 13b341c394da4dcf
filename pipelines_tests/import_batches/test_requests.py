"""The rows of a batch's files (requests.py): each rule refuses with file, line, field and value."""

from __future__ import annotations

import pytest

from pipelines.import_batches.batch_files import LinkValidator, ObjectValidator, Problems, Record
from pipelines.import_batches.creators import REGISTRY
from pipelines.import_batches.errors import ImportBatchError
from pipelines.import_batches.requests import check_batch_id


def object_problems(values: dict) -> list[str]:
    problems = Problems()
    assert ObjectValidator(REGISTRY, problems).row(Record("objects.jsonl", 7, values)) is None
    return problems.listed()


def link_problems(values: dict) -> list[str]:
    problems = Problems()
    assert LinkValidator(REGISTRY, problems).row(Record("links.csv", 3, values)) is None
    return problems.listed()


GOOD_LINK = {"pendingLinkId": "l", "linkType": "Dependent", "linkTag": "ci_parent", "objectId": "a", "referenceId": "b"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"objectType": "service", "name": "x"}, ["objects.jsonl line 7: pendingObjectId is missing"]),
        ({"pendingObjectId": "s", "name": "x"}, ["objects.jsonl line 7: objectType is missing"]),
        ({"pendingObjectId": "s", "objectType": 5}, ["objects.jsonl line 7: objectType 5 is not a string"]),
        ({"pendingObjectId": "s", "objectType": "service", "name": 5}, ["objects.jsonl line 7: name 5 is not a string"]),
        (
            {"pendingObjectId": "s", "objectType": "service", "name": "n" * 201},
            [f"objects.jsonl line 7: name {'n' * 40!r}... is longer than 200 characters"],
        ),
        (
            {"pendingObjectId": "s", "objectType": "service", "name": "a\x00b"},
            ["objects.jsonl line 7: name 'a\\x00b' contains a NUL character (\\u0000)"],
        ),
        (
            {"pendingObjectId": "", "objectType": "component", "slug": "api", "name": ""},
            ["objects.jsonl line 7: pendingObjectId is missing", "objects.jsonl line 7: name is missing"],
        ),
        (
            {"pendingObjectId": "s", "objectType": "service", "name": "x", "slug": "y" * 500},
            [
                f"objects.jsonl line 7: field 'slug' (value 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...(502 characters)) is not a field of "
                "service (expected: name, objectType, pendingObjectId)"
            ],
        ),
    ],
    ids=["no-id", "no-type", "type-not-text", "field-not-text", "too-long", "nul", "empty-fields", "unknown-field"],
)
def test_an_object_row_is_refused_naming_file_line_field_and_value(values, expected):
    assert object_problems(values) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({**GOOD_LINK, "linkType": "Strong"}, ["links.csv line 3: linkType 'Strong' is not Dependent or Independent"]),
        ({**GOOD_LINK, "linkType": 1}, ["links.csv line 3: linkType 1 is not a string"]),
        ({**GOOD_LINK, "separateDependentLinkCreate": "maybe"},
         ["links.csv line 3: separateDependentLinkCreate 'maybe' is not true or false"]),
        ({**GOOD_LINK, "separateDependentLinkCreate": 1},
         ["links.csv line 3: separateDependentLinkCreate 1 is not true or false"]),
        ({**GOOD_LINK, "linkTag": "ci_owner"},
         ["links.csv line 3: linkTag 'ci_owner' is not a known tag (one of: ci_service, ci_component, ci_boundary, "
          "ci_parent, ci_responsibility)"]),
        ({**GOOD_LINK, "weight": "2"},
         ["links.csv line 3: field 'weight' (value '2') is not a field of a link (expected: linkTag, linkType, objectId, "
          "pendingLinkId, referenceId, separateDependentLinkCreate)"]),
        ({k: v for k, v in GOOD_LINK.items() if k != "referenceId"}, ["links.csv line 3: referenceId is missing"]),
    ],
    ids=["link-type", "link-type-not-text", "flag-text", "flag-number", "unknown-tag", "unknown-field", "no-parent"],
)
def test_a_link_row_is_refused_naming_file_line_field_and_value(values, expected):
    assert link_problems(values) == expected


@pytest.mark.parametrize(("flag", "expected"), [("TRUE", True), ("false", False), ("", False), (True, True)])
def test_separate_dependent_link_create_reads_csv_text_and_json_booleans(flag, expected):
    row = LinkValidator(REGISTRY, Problems()).row(Record("links.csv", 2, {**GOOD_LINK, "separateDependentLinkCreate": flag}))
    assert row == {
        "pending_link_id": "l", "link_type": "Dependent", "link_tag": "ci_parent", "object_id": "a",
        "reference_id": "b", "separate_dependent_link_create": expected, "line": 2,
    }


def test_a_valid_object_row_is_the_staged_row_with_its_natural_key():
    row = ObjectValidator(REGISTRY, Problems()).row(
        Record("objects.csv", 2, {"pendingObjectId": "c", "objectType": "component", "slug": "api", "name": "API"})
    )
    assert row == {
        "pending_object_id": "c", "object_type": "component", "natural_key": "api",
        "fields": {"slug": "api", "name": "API"}, "line": 2,
    }


@pytest.mark.parametrize("batch_id", ["", "-x", "a/b", "x" * 65, None])
def test_a_batch_id_outside_the_pattern_is_refused(batch_id):
    with pytest.raises(ImportBatchError, match=r"^batch id .* is not valid: use 1 to 64 letters"):
        check_batch_id(batch_id)


def test_a_json_line_is_validated_from_its_text_to_the_same_row():
    line = '{"pendingObjectId":"c","objectType":"component","slug":"api","name":"API"}\n'
    assert ObjectValidator(REGISTRY, Problems()).row(Record("objects.jsonl", 2, None, line)) == {
        "pending_object_id": "c", "object_type": "component", "natural_key": "api",
        "fields": {"slug": "api", "name": "API"}, "line": 2,
    }
    link = '{"pendingLinkId":"l","linkType":"Dependent","linkTag":"ci_parent","objectId":"a","referenceId":"b",' \
        '"separateDependentLinkCreate":true}\n'
    assert LinkValidator(REGISTRY, Problems()).row(Record("links.jsonl", 3, None, link)) == {
        "pending_link_id": "l", "link_type": "Dependent", "link_tag": "ci_parent", "object_id": "a",
        "reference_id": "b", "separate_dependent_link_create": True, "line": 3,
    }


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '{"pendingObjectId": "c", "objectType": "component", "slug": "api"',
            "objects.jsonl line 7: not JSON (Expecting ',' delimiter)",
        ),
        ('["c", "component"]', "objects.jsonl line 7: not a JSON object"),
        ('{"pendingObjectId": "c", "objectType": "component", "slug": "api"}', "objects.jsonl line 7: name is missing"),
        (
            '{"pendingObjectId": "c", "objectType": "component", "slug": 7, "name": "API"}',
            "objects.jsonl line 7: slug 7 is not a string",
        ),
    ],
)
def test_a_json_line_that_fails_is_named_like_its_parsed_values(line, expected):
    problems = Problems()
    assert ObjectValidator(REGISTRY, problems).row(Record("objects.jsonl", 7, None, line)) is None
    assert problems.listed() == [expected]


def test_problems_are_listed_file_by_file_in_line_order_keeping_the_first_max_errors(monkeypatch):
    monkeypatch.setattr("pipelines.import_batches.batch_files.MAX_ERRORS", 3)
    problems = Problems()
    problems.add("objects line 4: a", 4)
    problems.add("objects line 9: b", 9)
    problems.add("objects line 2: repeat", 2)  # found after the file's COPY
    problems.next_file()
    problems.add("links line 1: c", 1)
    problems.add("links line 1: d", 1)

    assert problems.listed() == ["objects line 2: repeat", "objects line 4: a", "objects line 9: b", "... and 2 more errors"]
    assert problems.count == 5
