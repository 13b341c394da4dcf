"""The export request (the seed's message), the one definition of its fields and rules.

`ExportRequest` is the asset config of `study_exports_on_request` (the launchpad shows the seed's
names: `exportType`, `endDateTime`, `startDateTime`, `ignoreLastExportTime`, `studyWhitelist`,
`recordOverride`, `tag`, `redriveCount`), the body of a re-drive message and what the CLI builds.
`WindowExportOptions` is the config of a daily / hourly partition run: the fields of the request
that a partition does not decide (its type and window come from the partition).

Plain data becomes a request only through `ExportRequest.parse` (core `Request.parse`), which
raises `StudyExportError` with one line naming the field and the value. Date-times are kept as
their canonical text (UTC, `Z`), since Dagster's config has no date-time type; `end` and `start`
are the parsed values.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar, Self

import dagster as dg
from pydantic import Field, field_validator, model_validator

from pipelines.core.requests import Request, shorten
from pipelines.study_exports.errors import StudyExportError

UTC = dt.timezone.utc
REDRIVE_TAG_PREFIX = "redrive export; original: "
MAX_TAG_LENGTH = 500
MAX_OVERRIDE_KEY_LENGTH = 1000


class ExportType(enum.StrEnum):
    DAILY = "DAILY"
    HOURLY = "HOURLY"
    INSTANT = "INSTANT"


class WindowExportOptions(Request):
    """Options of any export: a daily / hourly partition run takes only these."""

    error: ClassVar[type[StudyExportError]] = StudyExportError

    ignore_last_export_time: bool = Field(
        default=False,
        alias="ignoreLastExportTime",
        description="Re-export the window without reading or moving the watermarks (last_export_date_time).",
    )
    study_whitelist: list[str] | None = Field(
        default=None,
        alias="studyWhitelist",
        description="Only these studies (default: every study). Required for INSTANT.",
    )
    tag: str | None = Field(
        default=None, alias="tag", max_length=MAX_TAG_LENGTH, description="A label stored in the export log."
    )

    @field_validator("ignore_last_export_time", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> bool:
        # The seed's messages say "true"; pydantic's lax booleans would also take "yes", "on", 1.
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError("is not true or false")

    @field_validator("study_whitelist", mode="before")
    @classmethod
    def _whitelist(cls, value: Any) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError("is not a list of study ids")
        if not value:
            raise ValueError("is empty; leave it out to export every study")
        return list(dict.fromkeys(v.strip() for v in value))

    @field_validator("tag", mode="before")
    @classmethod
    def _tag(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is blank; leave it out or write a label")
        return value


class ExportRequest(WindowExportOptions):
    """What to export. Exactly one source of records: each study's watermark (the normal run), an
    explicit window that ignores it (`ignoreLastExportTime`), or a list of records (`recordOverride`)."""

    export_type: ExportType = Field(
        default=ExportType.INSTANT, alias="exportType", description="DAILY, HOURLY or INSTANT."
    )
    end_date_time: str | None = Field(
        default=None,
        alias="endDateTime",
        description="ISO 8601 end with an offset (2016-10-04T00:00:00Z); INSTANT default: now - clock skew.",
    )
    start_date_time: str | None = Field(
        default=None, alias="startDateTime", description="Window start; needs ignoreLastExportTime."
    )
    record_override: str | None = Field(
        default=None,
        alias="recordOverride",
        min_length=1,
        max_length=MAX_OVERRIDE_KEY_LENGTH,
        description="Object key of a list of record ids, one a line (a re-drive).",
    )
    redrive_count: int = Field(
        default=0, alias="redriveCount", ge=0, description="How many times these records were re-driven."
    )

    @field_validator("export_type", mode="before")
    @classmethod
    def _export_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().upper() in ExportType.__members__:
            return ExportType(value.strip().upper())  # the seed's queue may say "daily"
        if isinstance(value, ExportType):
            return value
        raise ValueError(f"is not one of {', '.join(ExportType)}")

    @field_validator("end_date_time", "start_date_time", mode="before")
    @classmethod
    def _aware_iso(cls, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("is not an ISO 8601 date-time; write e.g. 2016-10-04T23:59:59Z") from None
        else:
            raise ValueError("is not an ISO 8601 date-time string")
        if parsed.tzinfo is None:
            raise ValueError("has no time zone; add Z or an offset like +00:00")
        try:
            return iso(parsed)
        except OverflowError:
            raise ValueError("is out of range once converted to UTC") from None

    @model_validator(mode="after")
    def _one_source_of_records(self) -> Self:
        # These messages name their field themselves (core `validation_message` prints them as they are).
        if self.record_override is not None:
            for name, value in (("startDateTime", self.start_date_time), ("endDateTime", self.end_date_time)):
                if value is not None:
                    raise ValueError(
                        f"{name}: {value} given with recordOverride {shorten(self.record_override)}; "
                        "a record override exports the listed records and carries no window"
                    )
            return self
        if self.start_date_time is not None and not self.ignore_last_export_time:
            raise ValueError(
                f"startDateTime: {self.start_date_time} given without ignoreLastExportTime=true; a normal "
                "export starts at each study's last_export_date_time, so set ignoreLastExportTime to re-export a window"
            )
        if self.end_date_time is None and self.export_type is not ExportType.INSTANT:
            raise ValueError(f"endDateTime: missing; a {self.export_type} export needs the end of its window")
        if self.start_date_time is not None and self.end_date_time is not None and self.start >= self.end:  # type: ignore[operator]
            raise ValueError(f"startDateTime: {self.start_date_time} is not before endDateTime {self.end_date_time}")
        if self.export_type is ExportType.INSTANT and self.study_whitelist is None:
            raise ValueError("studyWhitelist: missing; an INSTANT export names its studies")
        if self.end is not None and self.start is None:
            try:
                window_start(self.export_type, self.end)
            except OverflowError:
                raise ValueError(
                    f"endDateTime: {self.end_date_time} is too early: a {self.export_type} window before it "
                    "would start before year 1"
                ) from None
        return self

    @property
    def end(self) -> dt.datetime | None:
        return None if self.end_date_time is None else parse_iso(self.end_date_time)

    @property
    def start(self) -> dt.datetime | None:
        return None if self.start_date_time is None else parse_iso(self.start_date_time)

    @property
    def uses_watermark(self) -> bool:
        """Reads and then advances `last_export_date_time` (the normal daily / hourly / instant run)."""
        return not self.ignore_last_export_time and self.record_override is None

    def with_end(self, end: dt.datetime) -> ExportRequest:
        """The same request ending at `end` (an INSTANT request without an end, resolved at run time)."""
        return self.model_copy(update={"end_date_time": iso(end)})

    def to_message(self) -> dict[str, Any]:
        """The request as a JSON message with the seed's field names (defaults left out), as the
        re-drive queue and the export log keep it."""
        return {
            "exportType": str(self.export_type),
            **self.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude_none=True),
        }

    def redrive(self, override_key: str) -> ExportRequest:
        """The re-drive of this request's failed records: listed in `override_key`, one more re-drive."""
        return ExportRequest(
            export_type=self.export_type,
            study_whitelist=self.study_whitelist,
            record_override=override_key,
            tag=redrive_tag(self.tag),
            redrive_count=self.redrive_count + 1,
        )

    @classmethod
    def for_window(
        cls, options: WindowExportOptions, export_type: ExportType, window: dg.TimeWindow, ignore: bool
    ) -> ExportRequest:
        """The request of one daily / hourly partition: its type and window, the run's options; a
        re-export (`ignore`) covers exactly the window and keeps the watermarks."""
        return cls(
            export_type=export_type,
            end_date_time=iso(window.end),
            start_date_time=iso(window.start) if ignore else None,
            ignore_last_export_time=ignore,
            study_whitelist=options.study_whitelist,
            tag=options.tag,
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


def iso(when: dt.datetime) -> str:
    """The canonical text of an aware date-time: UTC, `Z`."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    """A canonical date-time text (`iso`) back to an aware UTC date-time."""
    return dt.datetime.fromisoformat(text).astimezone(UTC)


MAX_REDRIVES_PER_RUN = 100


class RedriveBatch(Request):
    """The re-drive messages of one sensor tick, exported by one run, each request in turn."""

    error: ClassVar[type[StudyExportError]] = StudyExportError

    requests: list[ExportRequest] = Field(
        min_length=1, max_length=MAX_REDRIVES_PER_RUN, description="The messages' requests, in order."
    )
    message_ids: list[str] = Field(
        default_factory=list, alias="messageIds", description="The queue's id of each message, in the same order."
    )
