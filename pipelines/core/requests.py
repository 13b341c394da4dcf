"""The base of every domain's request models, and the one way a request is parsed.

A request that crosses a boundary (run config, a queue message, CLI arguments, a file) is one
pydantic model per domain, in `<domain>/requests.py`. The model is also the asset's `dg.Config`, so
the launchpad shows its fields (the seed's names, as aliases), its typed choices and its defaults,
and Dagster refuses a value outside a choice before a run exists. `Request.parse` is the only way
plain data becomes a request: it raises the domain's error with one line naming the field and the
value, e.g. `batchSize: -1: must be at least 1`.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import dagster as dg
import pydantic
from pydantic import ConfigDict

from pipelines.core.errors import PipelinesError

MAX_VALUE_SHOWN = 80


class Request(dg.Config):
    """A validated request. Subclasses set `error` to their domain's `PipelinesError` subclass."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    error: ClassVar[type[PipelinesError]] = PipelinesError

    def __init__(self, **data: Any) -> None:
        # Dagster's Config looks a choice (an Enum field) up by name before pydantic validates it, and
        # that lookup raises TypeError on a list or an object: refused here as a validation error.
        unhashable = _unhashable_choice(type(self), data)
        if unhashable:
            raise ValueError(unhashable)
        super().__init__(**data)

    @classmethod
    def parse(cls, data: Any, *, source: str | None = None) -> Self:
        """`data` (a mapping with the seed's field names, or a model) as this request, or the domain's
        error naming the first field that is wrong (and how many others are)."""
        if isinstance(data, cls):
            return data
        if data is None:
            data = {}
        prefix = f"{source}: " if source else ""
        if not isinstance(data, Mapping):
            raise cls.error(f"{prefix}expected a JSON object, got {type(data).__name__} {shorten(data)}")
        try:
            return cls.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            raise cls.error(prefix + validation_message(exc)) from None

    @classmethod
    def parse_json(cls, text: str | bytes, *, source: str) -> Self:
        """JSON text (a queue message, a request file) as this request; any fault is one line of the
        domain's error naming `source`."""
        return cls.parse(json_value(text, source, cls.error), source=source)


def json_value(text: str | bytes, source: str, error: type[PipelinesError]) -> Any:
    """JSON text as a value, or `error` with one line: not UTF-8, not JSON, nested too deep, or a
    number longer than Python reads (`json` raises RecursionError and a bare ValueError for these)."""
    try:
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise error(f"{source}: not JSON ({exc})") from None
    except RecursionError:
        raise error(f"{source}: not JSON (nested too deep)") from None
    except ValueError:
        raise error(f"{source}: not JSON (a number has more than {sys.get_int_max_str_digits()} digits)") from None


def _unhashable_choice(model: type[Request], data: Mapping[str, Any]) -> str | None:
    """`field: value: is not one of ...` for a choice given as a list or an object, else None."""
    for name, field in model.model_fields.items():
        choices = field.annotation
        key = field.alias if field.alias in data else name
        if key not in data or not (isinstance(choices, type) and issubclass(choices, enum.Enum)):
            continue
        try:
            hash(data[key])
        except TypeError:
            return f"{field.alias or name}: {shorten(data[key])}: is not one of {', '.join(str(c.value) for c in choices)}"
    return None


def validation_message(exc: pydantic.ValidationError) -> str:
    """One line for a pydantic error: `field: value: problem`, plus how many more problems there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "request"
    problem = _problem(first)
    if first["type"] == "missing":
        line = f"{field}: missing"
    elif first["type"] == "extra_forbidden":
        line = f"{field}: unknown field"
    elif not first["loc"] and first["type"] == "value_error":
        # A rule over several fields (a model validator) names its field and value in its own text.
        line = str(first["msg"]).removeprefix("Value error, ")
    else:
        line = f"{field}: {shorten(first['input'])}: {problem}"
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return line


def _problem(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    # A validator's own ValueError reads "Value error, <our text>"; keep our text.
    for lead in ("Value error, ", "Assertion failed, "):
        if message.startswith(lead):
            message = message[len(lead) :]
    return message[:1].lower() + message[1:]


def shorten(value: Any, limit: int = MAX_VALUE_SHOWN) -> str:
    """`repr(value)` cut to a readable length (a 900 KB value is not echoed whole)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}...({len(text):,} characters)"


def request_job(
    name: str,
    *,
    selection: Any,
    requests: Mapping[str, type[Request]],
    description: str | None = None,
    **kwargs: Any,
) -> dg.UnresolvedAssetJobDefinition:
    """`dg.define_asset_job` whose run config is validated by the request models when Dagster builds
    the run's plan, before the run exists: a bound or rule the config schema cannot express (a
    negative `batchSize`) refuses the launch instead of failing the run later.

    The run config keeps Dagster's usual shape (`ops: {asset: {config: {...}}}`), so the launchpad,
    schedules and sensors describe runs of this job exactly as they would without it.
    """
    ops_fields: dict[str, Any] = {}
    for asset, model in requests.items():
        op_config = pydantic.create_model(f"{name}__{asset}", __base__=dg.Config, config=(model, _default(model)))
        ops_fields[asset] = (op_config, _default(op_config))
    ops_model = pydantic.create_model(f"{name}__ops", __base__=dg.Config, **ops_fields)
    run_model = pydantic.create_model(
        f"{name}__run_config",
        __base__=dg.Config,
        ops=(ops_model, _default(ops_model)),
        execution=(dict[str, Any] | None, None),
        loggers=(dict[str, Any] | None, None),
        resources=(dict[str, Any] | None, None),
    )

    def validate(run_config: Any) -> dict[str, Any]:
        mapped: dict[str, Any] = {
            "ops": {asset: {"config": getattr(run_config.ops, asset).config.model_dump(by_alias=True)}
                    for asset in requests}
        }
        for section in ("execution", "loggers", "resources"):
            if getattr(run_config, section):
                mapped[section] = getattr(run_config, section)
        return mapped

    validate.__annotations__ = {"run_config": run_model, "return": dict}
    return dg.define_asset_job(
        name, selection=selection, description=description, config=dg.config_mapping(validate), **kwargs
    )


def _default(model: type[dg.Config]) -> Any:
    """The model's all-defaults value, or required (`...`) when its rules need a field set (an
    INSTANT export names its studies): the launchpad then asks for the config."""
    try:
        return model()
    except pydantic.ValidationError:
        return ...
