"""Every environment variable the code location reads, in one place.

Values are read when a resource is used (run time), through `dg.EnvVar`, never at import. An explicit
value given to a resource (run config, tests) wins over the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    description: str

    def get(self) -> str | None:
        value = dg.EnvVar(self.name).get_value()
        if value is None or value.strip() == "":
            return self.default
        return value.strip()


PIPELINES_HOME = Setting(
    "PIPELINES_HOME",
    ".pipelines",
    "Local data folder of the embedded default: the SQLite file and the object-store folder.",
)
PIPELINES_DATABASE_URL = Setting(
    "PIPELINES_DATABASE_URL",
    None,
    "SQLAlchemy URL of the application database, e.g. `postgresql://user@host:5432/app`. "
    "Unset: a SQLite file `$PIPELINES_HOME/pipelines.db`.",
)
PIPELINES_S3_BUCKET = Setting(
    "PIPELINES_S3_BUCKET",
    None,
    "S3 bucket of the object store. Unset: the folder `$PIPELINES_HOME/objects`.",
)
PIPELINES_S3_PREFIX = Setting(
    "PIPELINES_S3_PREFIX", "", "Key prefix inside the bucket (e.g. `prod/`)."
)
PIPELINES_S3_ENDPOINT_URL = Setting(
    "PIPELINES_S3_ENDPOINT_URL",
    None,
    "S3 endpoint for MinIO, moto or another S3-compatible store. Unset: AWS.",
)
PIPELINES_S3_REGION = Setting(
    "PIPELINES_S3_REGION", None, "AWS region of the bucket (falls back to `AWS_REGION`)."
)
PIPELINES_REDRIVE_QUEUE_URL = Setting(
    "PIPELINES_REDRIVE_QUEUE_URL",
    None,
    "SQS queue URL of study-export re-drive messages. Unset: JSON files under `redrive/inbox/` "
    "in the object store.",
)
PIPELINES_SQS_ENDPOINT_URL = Setting(
    "PIPELINES_SQS_ENDPOINT_URL",
    None,
    "SQS endpoint of the re-drive queue (moto, LocalStack). Unset: AWS.",
)
PIPELINES_REDRIVE_VISIBILITY_SECONDS = Setting(
    "PIPELINES_REDRIVE_VISIBILITY_SECONDS",
    "120",
    "How long a received re-drive message stays hidden before SQS delivers it again (the sensor "
    "requests its run on one delivery and deletes it on a later one).",
)

PIPELINES_EXECUTOR = Setting(
    "PIPELINES_EXECUTOR",
    None,
    "Where every job's steps run, read at run launch: `celery` sends them to Celery workers "
    "(install `pipelines[celery]`); unset: processes of the run (Dagster's default executor).",
)
PIPELINES_CELERY_BROKER_URL = Setting(
    "PIPELINES_CELERY_BROKER_URL",
    "pyamqp://guest:guest@127.0.0.1:5672//",
    "Celery broker (RabbitMQ) of the run that submits steps and of the workers that run them.",
)
PIPELINES_CELERY_BACKEND_URL = Setting(
    "PIPELINES_CELERY_BACKEND_URL",
    "rpc://",
    "Celery result backend: `rpc://` sends each step's events back over the broker.",
)
PIPELINES_ALERT_WEBHOOK_URL = Setting(
    "PIPELINES_ALERT_WEBHOOK_URL",
    None,
    "Webhook (Slack-compatible) the run-failure sensor posts failed runs to. Unset: it only logs.",
)
PIPELINES_UI_URL = Setting(
    "PIPELINES_UI_URL",
    "http://127.0.0.1:3000",
    "Base URL of the Dagster UI, for links to runs in alerts.",
)

ALL_SETTINGS: tuple[Setting, ...] = (
    PIPELINES_HOME,
    PIPELINES_DATABASE_URL,
    PIPELINES_S3_BUCKET,
    PIPELINES_S3_PREFIX,
    PIPELINES_S3_ENDPOINT_URL,
    PIPELINES_S3_REGION,
    PIPELINES_REDRIVE_QUEUE_URL,
    PIPELINES_SQS_ENDPOINT_URL,
    PIPELINES_REDRIVE_VISIBILITY_SECONDS,
    PIPELINES_EXECUTOR,
    PIPELINES_CELERY_BROKER_URL,
    PIPELINES_CELERY_BACKEND_URL,
    PIPELINES_ALERT_WEBHOOK_URL,
    PIPELINES_UI_URL,
)


def home_dir(explicit: str | None = None) -> Path:
    """The local data folder, created on first use."""
    path = Path(explicit or PIPELINES_HOME.get() or ".pipelines").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_url(home: str | None = None) -> str:
    return f"sqlite:///{home_dir(home) / 'pipelines.db'}"
