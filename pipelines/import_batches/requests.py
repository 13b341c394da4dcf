"""What crosses the import batches' boundary: the batch id, and the rows of a batch's files (the seed's
PendingObjectMain and PendingLink), each defined once here.

A row is a `TypedDict` validated by one `pydantic.TypeAdapter` per file: the seed's names are the
aliases (what the files hold), the attributes are the pending tables' column names (what the
validated dict holds), so a valid row goes to the staging COPY as it comes out. A model instance per
row would cost about twice the validation (100k objects a batch); a dict costs nothing more.

Objects are one TypedDict per object type, told apart by `objectType` (a discriminated union); the
first field after `objectType` is the type's natural key (the registry in `creators.py` names its
table). `batch_files.row_problems` turns pydantic's errors into one line each, naming the file, the
line, the field and the value.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union, get_args, get_type_hints

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationInfo, with_config
from typing_extensions import NotRequired, TypedDict

from pipelines.import_batches.errors import ImportBatchError

BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LINK_TYPES = ("Dependent", "Independent")
LinkType = Literal["Dependent", "Independent"]


def check_batch_id(batch_id: str | None) -> str:
    """The batch id (a partition key and a folder name), or the one-line error saying what it may be."""
    if not isinstance(batch_id, str) or not BATCH_ID.match(batch_id):
        raise ImportBatchError(
            f"batch id {batch_id!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return batch_id


# PostgreSQL's text and JSON cannot hold U+0000: refused here, with the file and line, not by COPY.
NO_NUL = r"^[^\x00]*$"


def text(max_length: int) -> Any:
    """A required, non-empty string of at most `max_length` characters (JSON numbers are not strings)."""
    return Annotated[str, Field(strict=True, min_length=1, max_length=max_length, pattern=NO_NUL)]


PendingId = text(200)


def _true_or_false(value: Any) -> Any:
    """JSON true/false, or CSV's text `true`/`false` in any case; an empty CSV field is the default."""
    if value is None or value is True or value is False:
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", ""):
        return value.lower() == "true"
    raise ValueError("is not true or false")


def _known_tag(value: str, info: ValidationInfo) -> str:
    """A link tag of the registry the rows are validated against (`context={"registry": ...}`)."""
    registry = (info.context or {}).get("registry")
    if registry is not None and value not in registry.link_tags:
        raise ValueError(f"is not a known tag (one of: {', '.join(registry.link_tags)})")
    return value


_ROW = ConfigDict(extra="forbid")


@with_config(_ROW)
class PendingObjectFields(TypedDict):
    """What every pending object has (`objectType` is narrowed per type below)."""

    pending_object_id: Annotated[PendingId, Field(alias="pendingObjectId")]


@with_config(_ROW)
class ServiceObject(PendingObjectFields):
    object_type: Annotated[Literal["service"], Field(alias="objectType")]
    name: text(200)


@with_config(_ROW)
class ComponentObject(PendingObjectFields):
    object_type: Annotated[Literal["component"], Field(alias="objectType")]
    slug: text(100)
    name: text(200)


@with_config(_ROW)
class BoundaryObject(PendingObjectFields):
    object_type: Annotated[Literal["boundary"], Field(alias="objectType")]
    slug: text(100)
    name: text(200)


@with_config(_ROW)
class ResponsibilityObject(PendingObjectFields):
    object_type: Annotated[Literal["responsibility"], Field(alias="objectType")]
    slug: text(200)
    title: text(500)


@with_config(_ROW)
class ComponentInstanceObject(PendingObjectFields):
    object_type: Annotated[Literal["component_instance"], Field(alias="objectType")]
    name: text(400)


@with_config(_ROW)
class PendingLink(TypedDict):
    """A row of `links`: the seed's PendingLink (`objectId` is the child, `referenceId` the parent)."""

    pending_link_id: Annotated[PendingId, Field(alias="pendingLinkId")]
    link_type: Annotated[LinkType, Field(alias="linkType")]
    link_tag: Annotated[text(50), AfterValidator(_known_tag), Field(alias="linkTag")]
    object_id: Annotated[PendingId, Field(alias="objectId")]
    reference_id: Annotated[PendingId, Field(alias="referenceId")]
    separate_dependent_link_create: NotRequired[
        Annotated[bool, BeforeValidator(_true_or_false), Field(alias="separateDependentLinkCreate")]
    ]


COMMON_OBJECT_FIELDS = ("pending_object_id", "object_type")


def object_type_name(record: type) -> str:
    """The `objectType` of an object TypedDict (its Literal)."""
    hint = get_type_hints(record, include_extras=True)["object_type"]
    (literal, *_) = get_args(hint)
    return get_args(literal)[0]


def object_fields(record: type) -> tuple[str, ...]:
    """The type's own fields, in order (the first is its natural key)."""
    return tuple(name for name in get_type_hints(record) if name not in COMMON_OBJECT_FIELDS)


def seed_names(record: type) -> tuple[str, ...]:
    """The names a file uses for the record's fields (the aliases), in order."""
    names = []
    for name, hint in get_type_hints(record, include_extras=True).items():
        alias = next((m.alias for m in _metadata(hint) if getattr(m, "alias", None)), None)
        names.append(alias or name)
    return tuple(names)


def _metadata(hint: Any) -> list[Any]:
    found: list[Any] = []
    for part in getattr(hint, "__metadata__", ()):
        found.append(part)
    for arg in get_args(hint):
        found += _metadata(arg)
    return found


def objects_adapter(records: tuple[type, ...]) -> TypeAdapter:
    """One validator for the rows of `objects`: the object types' TypedDicts, chosen by `objectType`."""
    if len(records) == 1:
        return TypeAdapter(records[0])
    return TypeAdapter(Annotated[Union[records], Field(discriminator="object_type")])  # noqa: UP007


LINKS = TypeAdapter(PendingLink)
