"""Sample tenants for the demo, the tests and the benchmark, with every value that breaks a naive CSV.

Text holds unicode, commas, quotes, CR, LF, CRLF, tabs and backslashes; NULL and the empty string both
occur in the same nullable columns; credentials hold raw bytes (including NUL and an empty byte
string); timestamps are given in several time zones; event details are nested JSON. Rows are generated
as streams and bulk-inserted, so a million events never sit in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pipelines.core.database import Database
from pipelines.tenant_archives import tables

TRICKY_TEXT = (
    "plain",
    "comma, inside",
    'a "quoted" word',
    '"starts and ends with quotes"',
    "line\nfeed",
    "carriage\r\nreturn line feed",
    "lone\rCR",
    "trailing newline\n",
    "tab\tinside",
    "back\\slash \\N",
    "Zoë, Łódź, 東京, مرحبا, 🚀",
    "  spaces around  ",
    "",
    ",",
    '"',
)
ZONES = (
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(dt.timedelta(hours=-8)),
    dt.timezone(dt.timedelta(hours=13, minutes=45)),
)
BASE_TIME = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class TenantSize:
    users: int = 20
    events: int = 200
    api_keys: int = 3
    report_days: int = 14


def _text(rng: random.Random, nullable: bool = True) -> str | None:
    if nullable and rng.random() < 0.15:
        return None
    return rng.choice(TRICKY_TEXT)


def _when(rng: random.Random, days: int = 400) -> dt.datetime:
    moment = BASE_TIME - dt.timedelta(seconds=rng.randrange(days * 86400), microseconds=rng.randrange(1_000_000))
    return moment.astimezone(rng.choice(ZONES))


def generate_tenants(database: Database, tenants: Sequence[str], size: TenantSize = TenantSize(), seed: int = 7) -> int:
    """Insert `tenants`, each with `size` rows, in one transaction; returns the number of rows."""
    total = 0
    with database.begin() as conn:
        for tenant in tenants:
            rng = random.Random(f"{seed}:{tenant}")
            for table, rows in _tenant_rows(tenant, size, rng):
                total += database.bulk_insert(conn, table, rows)
    return total


def _tenant_rows(tenant: str, size: TenantSize, rng: random.Random) -> Iterator[tuple]:
    user_ids = [f"user-{i:06d}" for i in range(size.users)]
    key_ids = [f"{tenant[:8]}-key-{i}" for i in range(size.api_keys)]
    yield tables.applications, [
        {
            "tenant": tenant,
            "name": f"{tenant} — sign-in, \"prod\"",
            "description": _text(rng),
            "created_at": _when(rng),
            "delete_at": None if rng.random() < 0.7 else _when(rng),
        }
    ]
    yield tables.app_features, [
        {
            "tenant": tenant,
            "event_logging_is_enabled": True,
            "event_logging_retention_period": 365,
            "magic_link_email_monthly_quota": rng.randrange(100, 10_000),
            "max_users": None if rng.random() < 0.5 else 10_000_000_000,
            "allow_attestation": rng.random() < 0.5,
        }
    ]
    yield tables.users, (
        {
            "tenant": tenant,
            "user_id": user_id,
            "display_name": _text(rng),
            "email": None if i % 3 == 0 else ("" if i % 3 == 1 else f"{user_id}@example.com"),
            "created_at": _when(rng),
        }
        for i, user_id in enumerate(user_ids)
    )
    yield tables.credentials, (
        {
            "tenant": tenant,
            "descriptor_id": hashlib.sha256(f"{tenant}:{i}".encode()).digest()[: 16 + i % 16],
            "public_key": bytes([0, 255, 10, 13, 44, 34]) + rng.randbytes(64),
            "user_handle": b"" if i == 0 else user_id.encode(),
            "user_id": user_id,
            "signature_counter": rng.randrange(2**40),
            "attestation_fmt": rng.choice(("none", "packed", "fido-u2f")),
            "aa_guid": uuid.UUID(int=rng.getrandbits(128)),
            "rp_id": "example.com",
            "origin": "https://example.com",
            "device": _text(rng),
            "country": None if i % 2 else "BE",
            "nickname": _text(rng),
            "backup_state": None if i % 3 == 0 else bool(i % 2),
            "created_at": _when(rng),
            "last_used_at": _when(rng, 30),
        }
        for i, user_id in enumerate(user_ids)
    )
    yield tables.aliases, (
        {
            "tenant": tenant,
            "alias_hash": hashlib.sha256(f"{tenant}:{user_id}".encode()).hexdigest(),
            "plaintext": _text(rng),
            "user_id": user_id,
        }
        for user_id in user_ids
    )
    yield tables.api_keys, (
        {
            "tenant": tenant,
            "id": key_id,
            "api_key": hashlib.sha256(key_id.encode()).hexdigest(),
            "scopes": ["token_register", "token_verify"] if i % 2 else [],
            "is_locked": i == 0,
            "created_at": _when(rng),
            "last_locked_at": _when(rng) if i == 0 else None,
        }
        for i, key_id in enumerate(key_ids)
    )
    yield tables.application_events, (_event(tenant, rng, user_ids, key_ids) for _ in range(size.events))
    days = [BASE_TIME.date() - dt.timedelta(days=d) for d in range(size.report_days)]
    yield tables.periodic_credential_reports, (
        {"tenant": tenant, "created_at": day, "credentials_count": size.users - d, "users_count": size.users}
        for d, day in enumerate(days)
    )
    yield tables.periodic_active_user_reports, (
        {"tenant": tenant, "created_at": day, "daily_active_users_count": d, "weekly_active_users_count": 7 * d}
        for d, day in enumerate(days)
    )


def _event(tenant: str, rng: random.Random, user_ids: list[str], key_ids: list[str]) -> dict:
    user = rng.choice(user_ids) if user_ids else "system"
    return {
        "tenant": tenant,
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "performed_at": _when(rng),
        "performed_by": user,
        "event_type": rng.randrange(1, 40),
        "message": rng.choice(TRICKY_TEXT),
        "severity": rng.randrange(0, 4),
        "subject": tenant,
        "api_key_id": rng.choice(key_ids) if key_ids and rng.random() < 0.5 else None,
        "details": None
        if rng.random() < 0.2
        else {"ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}", "note": rng.choice(TRICKY_TEXT),
              "nested": {"list": [1, 2.5, None, True], "empty": ""}},
    }
