"""Delivery of the outbox: webhooks (HMAC-SHA256 signed JSON) and e-mail (SMTP).

Every alert goes to every configured target. One attempt = one row in the delivery log
(``store.alerts.alert_deliveries``). A failed attempt (network error, HTTP 5xx, 408 or 429) is
retried up to ``max_attempts`` times with exponential backoff (``backoff_s`` x 2^k); another
4xx is final. An alert is ``delivered`` when every target has accepted it once; otherwise
``failed`` (``geoveilig alerts resend`` tries again). A target that already accepted an alert
is not sent it again unless ``force`` (resend).

Webhook request: ``POST`` with the JSON body of :func:`payload`, headers
``Content-Type: application/json``, ``Idempotency-Key: <alert_key>`` (the same on every attempt
and resend: receivers drop duplicates), ``X-Geoveilig-Signature: sha256=<hex>`` = HMAC-SHA256
of the raw body with the shared secret, and ``X-Geoveilig-Attempt``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic_settings import BaseSettings, SettingsConfigDict

from .. import crimetypes
from ..errors import InvalidInput
from ..store import Store
from ..store.alerts import deliveries, list_alerts, log_delivery, set_status
from .notify import dutch_date

if TYPE_CHECKING:  # httpx, smtplib and email load when something is delivered, not with
    # the settings (every import checks them)
    import httpx

RETRY_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class DeliveryConfig:
    """Where alerts go. ``webhooks``: URLs; ``secret``: the HMAC key (required with
    webhooks); ``smtp_host``/``smtp_port``/``mail_from``/``mail_to``: e-mail (optional)."""

    webhooks: tuple[str, ...] = ()
    secret: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "geoveilig@localhost"
    mail_to: tuple[str, ...] = ()
    max_attempts: int = 5
    backoff_s: float = 2.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.webhooks and not self.secret:
            raise InvalidInput("webhooks zonder geheim: stel GEOVEILIG_ALERTS_SECRET in (de "
                               "berichten worden ondertekend met HMAC-SHA256)", where="secret")
        if self.max_attempts < 1:
            raise InvalidInput("max_attempts moet minstens 1 zijn", where="max_attempts")

    @property
    def targets(self) -> list[tuple[str, str]]:
        mail = [("email", to) for to in self.mail_to] if self.smtp_host else []
        return [("webhook", url) for url in self.webhooks] + mail

    @property
    def configured(self) -> bool:
        return bool(self.targets)


class AlertSettings(BaseSettings):
    """``GEOVEILIG_ALERTS_*``: ``WEBHOOKS`` (comma-separated URLs), ``SECRET``, ``SMTP_HOST``,
    ``SMTP_PORT``, ``MAIL_FROM``, ``MAIL_TO`` (comma-separated), ``MAX_ATTEMPTS``,
    ``BACKOFF_S``. Read by the edges only (CLI, API)."""

    model_config = SettingsConfigDict(env_prefix="GEOVEILIG_ALERTS_", extra="ignore")

    webhooks: str = ""
    secret: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "geoveilig@localhost"
    mail_to: str = ""
    max_attempts: int = 5
    backoff_s: float = 2.0

    def config(self) -> DeliveryConfig:
        def split(s: str) -> tuple[str, ...]:
            return tuple(p.strip() for p in s.split(",") if p.strip())

        return DeliveryConfig(webhooks=split(self.webhooks), secret=self.secret or None,
                              smtp_host=self.smtp_host or None, smtp_port=self.smtp_port,
                              mail_from=self.mail_from, mail_to=split(self.mail_to),
                              max_attempts=self.max_attempts, backoff_s=self.backoff_s)


def payload(alert: pd.Series) -> dict[str, Any]:
    """The JSON body of an alert: the generalised zone (GeoJSON, CRS84, 6 decimals), the crime
    type, validity (dates), the extent, the buurten, wijken and groups, message and action."""
    import geopandas as gpd
    import shapely

    zone = gpd.GeoSeries([alert["geometry"]], crs="EPSG:28992").to_crs("OGC:CRS84").iloc[0]
    zone = shapely.set_precision(zone, 1e-6)
    last = alert["valid_until"] - pd.Timedelta(days=1)
    return {
        "id": int(alert["id"]), "alertKey": alert["alert_key"],
        "crimeType": alert["crime_type"],
        "crimeTypeLabel": crimetypes.label(alert["crime_type"]),
        "validFrom": alert["valid_from"].date().isoformat(),
        "validThrough": last.date().isoformat(),
        "extent": {"distanceM": float(alert["distance_m"]), "days": float(alert["days"]),
                   "source": alert["extent_source"]},
        "buurten": list(alert["buurten"]), "wijken": list(alert["wijken"]),
        "groupIds": list(alert["group_ids"]), "cells": list(alert["cells"]),
        "zone": shapely.geometry.mapping(zone),
        "message": alert["message"], "action": alert["action"],
    }


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """What a receiver does: compare the signature in constant time."""
    return hmac.compare_digest(sign(body, secret), signature)


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    attempts: int = 0

    def message(self) -> str:
        return (f"{len(self.delivered)} melding(en) afgeleverd, {len(self.failed)} mislukt "
                f"({self.attempts} pogingen)")


def _webhook(client: httpx.Client, url: str, body: bytes, key: str, secret: str,
             attempt: int) -> tuple[bool, bool, int | None, str | None]:
    """(ok, retry, http status, error) of one POST."""
    import httpx

    try:
        r = client.post(url, content=body, headers={
            "Content-Type": "application/json", "Idempotency-Key": key,
            "X-Geoveilig-Signature": sign(body, secret), "X-Geoveilig-Attempt": str(attempt)})
    except httpx.HTTPError as exc:
        return False, True, None, f"{type(exc).__name__}: {exc}"
    if 200 <= r.status_code < 300:
        return True, False, r.status_code, None
    retry = r.status_code >= 500 or r.status_code in RETRY_STATUS
    return False, retry, r.status_code, r.text[:200] or f"HTTP {r.status_code}"


def _email(config: DeliveryConfig, to: str, data: dict[str, Any]
           ) -> tuple[bool, bool, int | None, str | None]:
    import smtplib
    from email.message import EmailMessage

    msg = EmailMessage()
    until = dutch_date(pd.Timestamp(data["validThrough"]))
    msg["Subject"] = f"Verhoogd risico: {data['crimeTypeLabel'].lower()} tot en met {until}"
    msg["From"] = config.mail_from
    msg["To"] = to
    msg["Message-ID"] = f"<{data['alertKey']}@geoveilig>"
    msg["Idempotency-Key"] = data["alertKey"]
    msg.set_content(f"{data['message']}\n\nWat kunt u doen: {data['action']}\n\n"
                    f"Buurten: {', '.join(data['buurten']) or '-'}\n")
    try:
        with smtplib.SMTP(config.smtp_host or "localhost", config.smtp_port,
                          timeout=config.timeout_s) as smtp:
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        return False, exc.smtp_code >= 400 and exc.smtp_code < 500, exc.smtp_code, str(exc)
    except (OSError, smtplib.SMTPException) as exc:
        return False, True, None, f"{type(exc).__name__}: {exc}"
    return True, False, 250, None


def deliver(store: Store, config: DeliveryConfig, *, ids: list[int] | None = None,
            force: bool = False, sleep: Callable[[float], None] = time.sleep,
            client: httpx.Client | None = None) -> DeliveryReport:
    """Deliver the pending alerts (or the alerts ``ids``, whatever their status) to every
    target of ``config`` (see the module docstring). Returns what happened."""
    report = DeliveryReport()
    if not config.configured:
        return report
    todo = list_alerts(store, ids=ids) if ids is not None else \
        list_alerts(store, status=["pending"])
    if todo.empty:
        return report
    log = deliveries(store)
    done = set(zip(log.loc[log["ok"], "alert_id"], log.loc[log["ok"], "target"], strict=True))
    own = client is None
    if client is None:
        import httpx

        client = httpx.Client(timeout=config.timeout_s)
    try:
        for _, alert in todo.iloc[::-1].iterrows():  # oldest first
            aid = int(alert["id"])
            data = payload(alert)
            body = json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
            all_ok = True
            for channel, target in config.targets:
                if not force and (aid, target) in done:
                    continue
                ok = False
                for attempt in range(1, config.max_attempts + 1):
                    if channel == "webhook":
                        ok, retry, status, error = _webhook(client, target, body,
                                                            alert["alert_key"],
                                                            config.secret or "", attempt)
                    else:
                        ok, retry, status, error = _email(config, target, data)
                    report.attempts += 1
                    log_delivery(store, aid, channel=channel, target=target, attempt=attempt,
                                 ok=ok, http_status=status, error=error,
                                 idempotency_key=alert["alert_key"])
                    if ok or not retry:
                        break
                    if attempt < config.max_attempts:
                        sleep(config.backoff_s * 2 ** (attempt - 1))
                all_ok &= ok
            set_status(store, aid, "delivered" if all_ok else "failed")
            (report.delivered if all_ok else report.failed).append(aid)
    finally:
        if own:
            client.close()
    return report
