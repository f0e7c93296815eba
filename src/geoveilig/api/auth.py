"""Callers and roles. No key: ``public``. ``Authorization: Bearer <key>`` or
``X-API-Key: <key>``: the role of that key (analyst or police). A wrong, unknown or revoked
key is refused with 401 (it never silently falls back to public)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import Request

from ..errors import GeoveiligError
from ..store import Store
from ..store.keys import verify_key


class Unauthorized(GeoveiligError):
    status = 401
    code = "unauthorized"


@dataclass(frozen=True)
class Caller:
    role: str
    actor: str  # "public" or "key:<id> (<name>)"


PUBLIC = Caller("public", "public")


def caller(request: Request) -> Caller:
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    token = request.headers.get("x-api-key")
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("gebruik 'Authorization: Bearer <sleutel>' of 'X-API-Key'")
        token = value.strip()
    if token is None:
        result = PUBLIC
    else:
        store: Store = request.app.state.store
        key = verify_key(store, token)
        if key is None:
            raise Unauthorized("ongeldige of ingetrokken API-sleutel")
        result = Caller(key.role, f"key:{key.key_id} ({key.name})")
    request.state.caller = result
    return result


def audit(request: Request, who: Caller, action: str, target: str) -> None:
    """An audit_log row for an access to restricted data: who, when (now), what, filter."""
    store: Store = request.app.state.store
    detail = json.dumps({"path": request.url.path, "query": dict(request.query_params),
                         "role": who.role}, ensure_ascii=False)
    store.audit(who.actor, action, target, detail)
