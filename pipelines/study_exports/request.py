"""An export request (the seed's message) and its validation, in one place.

Every entry point (the assets, the CLI, the re-drive sensor) turns what it got into an
`ExportRequest` with `ExportRequest.parse`, which checks every rule before anything runs and names
the field and the value that broke it. Field names are the seed's: `exportType`, `endDateTime`,
`startDateTime`, `ignoreLastExportTime`, `studyWhitelist`, `recordOverride`, `tag`, `redriveCount`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.study_exports.errors import StudyExportError

UTC = dt.timezone.utc
REDRIVE_TAG_PREFIX = "redrive export; original: "
MAX_TAG_LENGTH = 500


class ExportType(enum.StrEnum):
    DAILY = "DAILY"
    HOURLY = "HOURLY"
    INSTANT = "INSTANT"


FIELDS = (
    "exportType",
    "endDateTime",
    "startDateTime",
    "ignoreLastExportTime",
    "studyWhitelist",
    "recordOverride",
    "tag",
    "redriveCount",
)


@dataclass(frozen=True)
class ExportRequest:
    """What to export. Build it with `parse`; the constructor checks nothing."""

    exportType: ExportType
    endDateTime: dt.datetime | None = None
    startDateTime: dt.datetime | None = None
    ignoreLastExportTime: bool = False
    studyWhitelist: tuple[str, ...] | None = None
    recordOverride: str | None = None
    tag: str | None = None
    redriveCount: int = 0

    @property
    def uses_watermark(self) -> bool:
        """Reads and then advances `last_export_date_time` (the normal daily / hourly / instant run)."""
        return not self.ignoreLastExportTime and self.recordOverride is None

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> ExportRequest:
        """Validate a message (JSON-like values) into a request; raise `StudyExportError` naming the field."""
        if not isinstance(message, Mapping):
            raise StudyExportError(f"request: expected a JSON object, got {type(message).__name__} {message!r}")
        unknown = sorted(set(message) - set(FIELDS))
        if unknown:
            raise StudyExportError(
                f"request: unknown field(s) {', '.join(map(repr, unknown))}; the fields are {', '.join(FIELDS)}"
            )
        request = cls(
            exportType=_export_type(message.get("exportType")),
            endDateTime=_datetime("endDateTime", message.get("endDateTime")),
            startDateTime=_datetime("startDateTime", message.get("startDateTime")),
            ignoreLastExportTime=_boolean("ignoreLastExportTime", message.get("ignoreLastExportTime", False)),
            studyWhitelist=_whitelist(message.get("studyWhitelist")),
            recordOverride=_optional_text("recordOverride", message.get("recordOverride"), 1000),
            tag=_optional_text("tag", message.get("tag"), MAX_TAG_LENGTH),
            redriveCount=_count("redriveCount", message.get("redriveCount", 0)),
        )
        request._check_sources()
        return request

    def _check_sources(self) -> None:
        # Exactly one source of records: the watermark, an explicit window that ignores it, or an override.
        if self.recordOverride is not None:
            for name in ("startDateTime", "endDateTime"):
                if getattr(self, name) is not None:
                    raise StudyExportError(
                        f"{name}: {_iso(getattr(self, name))} given with recordOverride "
                        f"{self.recordOverride!r}; a record override exports the listed records and carries no window"
                    )
            return
        if self.startDateTime is not None and not self.ignoreLastExportTime:
            raise StudyExportError(
                f"startDateTime: {_iso(self.startDateTime)} given without ignoreLastExportTime=true; a normal "
                "export starts at each study's last_export_date_time, so set ignoreLastExportTime to re-export a window"
            )
        if self.endDateTime is None and self.exportType is not ExportType.INSTANT:
            raise StudyExportError(f"endDateTime: missing; a {self.exportType} export needs the end of its window")
        if self.startDateTime is not None and self.endDateTime is not None and self.startDateTime >= self.endDateTime:
            raise StudyExportError(
                f"startDateTime: {_iso(self.startDateTime)} is not before endDateTime {_iso(self.endDateTime)}"
            )
        if self.exportType is ExportType.INSTANT and self.studyWhitelist is None:
            raise StudyExportError("studyWhitelist: missing; an INSTANT export names its studies")

    def with_end(self, end: dt.datetime) -> ExportRequest:
        """The same request ending at `end` (an INSTANT request without an end, resolved at run time)."""
        return ExportRequest(**{**self.__dict__, "endDateTime": end})

    def to_message(self) -> dict[str, Any]:
        """The request as a JSON message, with the seed's field names (None fields left out)."""
        message: dict[str, Any] = {"exportType": str(self.exportType)}
        if self.endDateTime is not None:
            message["endDateTime"] = _iso(self.endDateTime)
        if self.startDateTime is not None:
            message["startDateTime"] = _iso(self.startDateTime)
        if self.ignoreLastExportTime:
            message["ignoreLastExportTime"] = True
        if self.studyWhitelist is not None:
            message["studyWhitelist"] = list(self.studyWhitelist)
        if self.recordOverride is not None:
            message["recordOverride"] = self.recordOverride
        if self.tag is not None:
            message["tag"] = self.tag
        if self.redriveCount:
            message["redriveCount"] = self.redriveCount
        return message

    def redrive(self, override_key: str) -> ExportRequest:
        """The re-drive of this request's failed records: listed in `override_key`, one more re-drive."""
        return ExportRequest(
            exportType=self.exportType,
            studyWhitelist=self.studyWhitelist,
            recordOverride=override_key,
            tag=redrive_tag(self.tag),
            redriveCount=self.redriveCount + 1,
        )


def redrive_tag(tag: str | None) -> str:
    """The seed's re-drive tag; a tag already prefixed keeps one prefix, and the whole fits the column."""
    original = tag or ""
    if not original.startswith(REDRIVE_TAG_PREFIX):
        original = REDRIVE_TAG_PREFIX + original
    return original[:MAX_TAG_LENGTH]


def window_start(export_type: ExportType, end: dt.datetime) -> dt.datetime:
    """The start a request's type gives its window when nothing else does."""
    if export_type is ExportType.DAILY:
        return end - dt.timedelta(days=1)
    if export_type is ExportType.HOURLY:
        return end - dt.timedelta(hours=1)
    return end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def parse_datetime(field: str, value: str) -> dt.datetime:
    """ISO 8601 with an offset (`2016-10-04T23:59:59Z`), as UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise StudyExportError(
            f"{field}: {value!r} is not an ISO 8601 date-time; write e.g. 2016-10-04T23:59:59Z"
        ) from None
    if parsed.tzinfo is None:
        raise StudyExportError(f"{field}: {value!r} has no time zone; add Z or an offset like +00:00")
    return parsed.astimezone(UTC)


def _iso(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _export_type(value: Any) -> ExportType:
    if value is None:
        raise StudyExportError("exportType: missing; use DAILY, HOURLY or INSTANT")
    if isinstance(value, str):
        try:
            return ExportType(value.strip().upper())
        except ValueError:
            pass
    raise StudyExportError(f"exportType: {value!r} is not one of DAILY, HOURLY, INSTANT")


def _datetime(field: str, value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise StudyExportError(f"{field}: {value.isoformat()} has no time zone")
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise StudyExportError(f"{field}: {value!r} is not an ISO 8601 date-time string")
    return parse_datetime(field, value)


def _boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise StudyExportError(f"{field}: {value!r} is not true or false")


def _whitelist(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise StudyExportError(f"studyWhitelist: {value!r} is not a list of study ids")
    if not value:
        raise StudyExportError("studyWhitelist: [] is empty; leave it out to export every study")
    return tuple(dict.fromkeys(v.strip() for v in value))


def _optional_text(field: str, value: Any, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise StudyExportError(f"{field}: {value!r} is not a non-empty string")
    if len(value) > max_length:
        raise StudyExportError(f"{field}: {value[:40]!r}... is longer than {max_length} characters")
    return value


def _count(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StudyExportError(f"{field}: {value!r} is not a whole number >= 0")
    return value
