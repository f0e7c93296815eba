"""API keys (table ``api_keys``, migrations ``0005`` and ``0014``: the gemeenten of a key).

A key is shown once, when it is created: ``gv_<key id>_<secret>``. The store keeps only a
per-key random salt and ``sha256(salt + secret)``; the key id (not secret) finds the row, the
hash is compared in constant time. Revoked keys stay in the table (for the audit log).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Integer, String, Table

from ..errors import InvalidInput, NotFound
from .models import metadata
from .protocols import HasEngine

ROLES_WITH_KEYS = ("analyst", "police")

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("salt", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    #: the CBS codes of the gemeenten the key is for, comma-separated; NULL: all of them
    Column("gemeente", String(256)),
)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: str
    #: the gemeenten the key's role holds for (None: every gemeente of the service)
    gemeenten: tuple[str, ...] | None = None


def _gemeenten(stored: str | None) -> tuple[str, ...] | None:
    return tuple(stored.split(",")) if stored else None


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def create_key(store: HasEngine, name: str, role: str,
               gemeente: str | None = None) -> tuple[ApiKey, str]:
    """A new key for ``role``; returns the record and the key text (shown only now).
    ``gemeente``: the gemeenten the role holds for (``areas.parse_gemeenten``: a code, a
    comma list; None or ``alle``: every gemeente). Elsewhere the key is as no key (public)."""
    from ..areas import parse_gemeenten

    codes = parse_gemeenten(gemeente) if gemeente is not None else None
    if role not in ROLES_WITH_KEYS:
        raise InvalidInput(f"onbekende rol '{role}': kies uit {', '.join(ROLES_WITH_KEYS)}",
                           where="role")
    name = name.strip()
    if not name:
        raise InvalidInput("geef de sleutel een naam (wie of welk systeem hem gebruikt)",
                           where="name")
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    salt = secrets.token_hex(16)
    with store.engine.begin() as conn:
        conn.execute(api_keys.insert().values(
            key_id=key_id, name=name, role=role, salt=salt, key_hash=_hash(salt, secret),
            created_at=int(time.time()), gemeente=",".join(codes) if codes else None))
    return ApiKey(key_id, name, role, codes), f"gv_{key_id}_{secret}"


def revoke_key(store: HasEngine, key_id: str) -> ApiKey:
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None:
            raise NotFound(f"geen sleutel met id '{key_id}'")
        conn.execute(api_keys.update().where(api_keys.c.key_id == key_id)
                     .values(revoked_at=int(time.time())))
    return ApiKey(row.key_id, row.name, row.role, _gemeenten(row.gemeente))


def verify_key(store: HasEngine, token: str) -> ApiKey | None:
    """The key record of a valid, unrevoked ``token``; None otherwise."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "gv" or not parts[1] or not parts[2]:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == parts[1])).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(row.salt, parts[2])):
        return None
    return ApiKey(row.key_id, row.name, row.role, _gemeenten(row.gemeente))


def list_keys(store: HasEngine) -> pd.DataFrame:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(api_keys.c.key_id, api_keys.c.name, api_keys.c.role,
                                      api_keys.c.created_at, api_keys.c.revoked_at,
                                      api_keys.c.gemeente)
                            .order_by(api_keys.c.id)).all()
    return pd.DataFrame([tuple(r) for r in rows],
                        columns=["key_id", "name", "role", "created_at", "revoked_at",
                                 "gemeente"])
