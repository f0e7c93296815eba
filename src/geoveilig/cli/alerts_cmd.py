"""``geoveilig alerts list|show|resend|deliver|backtest`` and ``geoveilig recommend
witte-voeten``: near-repeat meldingen voor preventiegroepen (``geoveilig.alerts``). The work is
in the library; this module only prints and writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # imported where used: a fast --help
    import pandas as pd

    from ..store import Store

from .. import WGS84, crimetypes
from .common import areas, console, handle_errors, open_store, out, progress_steps, read_store
from .tables import VALUES

alerts_app = typer.Typer(help="Meldingen van verhoogd risico (near-repeat) voor "
                              "preventiegroepen: tonen, (opnieuw) versturen, toetsen.",
                         no_args_is_help=True)


def _dates(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    last = frame["valid_until"].map(lambda t: (t - pd.Timedelta(days=1)).date().isoformat())
    return frame["valid_from"].map(lambda t: t.date().isoformat()), last


#: the columns of ``alerts list`` (headers from ``cli.tables``)
ALERT_COLUMNS = ("id", "crime_type", "valid_from", "valid_last", "n_cells", "n_incidents",
                 "n_groups", "buurten", "status")
#: the columns of ``recommend witte-voeten``
WITTE_VOETEN_COLUMNS = ("rank", "cell_id", "buurt_name", "valid_until", "expected_burglaries",
                        "expected_prevented", "team_ids")
#: the columns of ``alerts backtest``: per year, and alerts per group per month
BACKTEST_YEAR_COLUMNS = ("year", "through", "rule", "distance_m", "days", "source",
                         "n_events", "off_grid", "hits", "hit_share", "area_time_share", "pai",
                         "alerts")
BACKTEST_GROUP_COLUMNS = ("year", "rule", "group_months", "mean", "p90", "max", "share_over")


@alerts_app.command("list")
@handle_errors
def list_cmd(
    status: str | None = typer.Option(None, "--status", help="pending, delivered of failed"),
    active_at: str | None = typer.Option(None, "--active-at",
                                         help="alleen meldingen die op deze datum gelden"),
) -> None:
    """Toon de meldingen in de outbox (nieuwste eerst)."""
    def read(store: Store) -> pd.DataFrame:
        from ..store.alerts import list_alerts

        return list_alerts(store, status=[status] if status else None, active_at=active_at)

    frame = read_store("meldingen", "opslag openen en meldingen lezen", read)
    if frame.empty:
        out.print("Geen meldingen.")
        return
    from .tables import headers, table

    start, last = _dates(frame)
    shown = frame.assign(crime_type=frame["crime_type"].map(crimetypes.label),
                         valid_from=start, valid_last=last, n_cells=frame["cells"].map(len),
                         n_groups=frame["group_ids"].map(len),
                         buurten=frame["buurten"].map(lambda b: ";".join(b)))
    out.print(table(shown, headers(ALERT_COLUMNS, id="melding", crime_type="misdrijftype")),
              highlight=False, soft_wrap=True)


@alerts_app.command("show")
@handle_errors
def show(alert_id: int = typer.Argument(
        ..., metavar="MELDING", help="nummer van de melding")) -> None:
    """Toon één melding: tekst, zone, groepen en bezorglog."""
    with progress_steps("melding", 1) as step:
        step("opslag openen en melding lezen")
        import pandas as pd

        from ..store.alerts import deliveries, get_alert

        store = open_store()
        try:
            a = get_alert(store, alert_id)
            log = deliveries(store, alert_id)
        finally:
            store.close()
    last = (a["valid_until"] - pd.Timedelta(days=1)).date().isoformat()
    out.print(f"Melding {a['id']} ({VALUES['status'].get(a['status'], a['status'])}): "
              f"{crimetypes.label(a['crime_type'])}, geldig "
              f"{a['valid_from'].date().isoformat()} tot en met {last}", highlight=False)
    out.print(f"Bereik: {a['distance_m']:g} m / {a['days']:g} dagen ({a['extent_source']}); "
              f"zone: {len(a['cells'])} cellen van 125 m", highlight=False)
    out.print(f"Buurten: {', '.join(a['buurten']) or '-'}", highlight=False)
    out.print(f"Groepen: {', '.join(a['group_ids']) or '-'}", highlight=False)
    out.print(f"\n{a['message']}\n\nWat te doen: {a['action']}\n", highlight=False)
    if log.empty:
        out.print("Nog niet verstuurd.")
    for r in log.itertuples():
        out.print(f"  {r.at:%Y-%m-%d %H:%M:%S} {r.channel} {r.target} poging {r.attempt}: "
                  f"{'ok' if r.ok else 'mislukt'}"
                  + (f" (HTTP {int(r.http_status)})" if r.http_status == r.http_status
                     and r.http_status is not None else "")
                  + (f" {r.error}" if r.error else ""), highlight=False)


def _deliver(ids: list[int] | None, force: bool) -> None:
    from ..alerts.delivery import AlertSettings, deliver

    config = AlertSettings().config()
    if not config.configured:
        console.print("Geen bezorging ingesteld (GEOVEILIG_ALERTS_WEBHOOKS of "
                      "GEOVEILIG_ALERTS_SMTP_HOST en _MAIL_TO); niets verstuurd.")
        return
    store = open_store()
    try:
        report = deliver(store, config, ids=ids, force=force)
    finally:
        store.close()
    out.print(report.message())
    if report.failed:
        raise typer.Exit(3)


@alerts_app.command("resend")
@handle_errors
def resend(alert_id: int = typer.Argument(
        ..., metavar="MELDING", help="nummer van de melding")) -> None:
    """Verstuur een melding opnieuw naar alle bestemmingen (zelfde idempotentiesleutel)."""
    from ..store.alerts import get_alert

    store = open_store()
    try:
        get_alert(store, alert_id)  # NotFound for an unknown id
    finally:
        store.close()
    _deliver([alert_id], force=True)


@alerts_app.command("deliver")
@handle_errors
def deliver_cmd() -> None:
    """Verstuur de meldingen die nog niet (overal) zijn afgeleverd."""
    _deliver(None, force=False)


@alerts_app.command("backtest")
@handle_errors
def backtest_cmd(
    crime_type: str = typer.Option("woninginbraak", "--crime-type"),
    delay_days: float = typer.Option(0.0, "--delay-days",
                                     help="dagen tussen incident en melding (invoervertraging)"),
) -> None:
    """Toets de meldingen op de opgeslagen historie: PAI per jaar naast 200 m / 14 dagen, en
    meldingen per groep per maand."""
    from ..alerts.backtest import alert_backtest
    from ..alerts.service import grid_of
    from ..store.prevention import load_registry

    with progress_steps("toetsen", 2) as step:
        step("incidenten en register lezen")
        store = open_store()
        try:
            inc = store.incidents(crime_types=[crime_type])
            registry = load_registry(store)
        finally:
            store.close()
        a = areas()
        step("meldingen per jaar nabootsen")
        result = alert_backtest(inc, grid_of(a), areas=a, registry=registry,
                                crime_type=crime_type, delay_days=delay_days)
    from .tables import headers, table

    out.print(table(result.per_year, headers(BACKTEST_YEAR_COLUMNS, result.per_year,
                                             source="herkomst"), digits=2),
              highlight=False, soft_wrap=True)
    out.print("\nMeldingen per groep per maand", highlight=False)
    per_group = result.per_group
    over = [c for c in per_group.columns if c.startswith("share_over_")]
    if over:  # share_over_<n>: the share of group-months with more than n alerts
        per_group = per_group.rename(columns={over[0]: "share_over"})
    out.print(table(per_group, headers(
        BACKTEST_GROUP_COLUMNS, per_group,
        share_over=f"deel maanden boven {over[0].rsplit('_', 1)[1]} (%)" if over else ""),
        digits=2), highlight=False, soft_wrap=True)


@handle_errors
def witte_voeten(
    count: int = typer.Option(..., "--count", "-k", help="aantal acties (cellen van 125 m)"),
    date: str | None = typer.Option(None, "--date", help="peildatum (standaard: dag na het "
                                                         "laatste incident)"),
    efficacy: float | None = typer.Option(None, "--efficacy",
                                          help="aangenomen aandeel voorkomen inbraken "
                                               "(0-1; standaard 0,25: een aanname)"),
    save: bool = typer.Option(False, "--save", help="sla de acties op als inzet "
                                                    "(soort witte-voeten)"),
    out_file: Path | None = typer.Option(None, "--out", help="uitvoer (GeoJSON, WGS84)"),
) -> None:
    """Witte-voetenacties: cellen in de huidige zones van verhoogd inbraakrisico, gerangschikt
    naar verwacht voorkomen inbraken, voor de teams die er kunnen optreden."""
    from ..alerts.service import plan_witte_voeten

    with progress_steps("witte voeten", 2) as step:
        step("grenzen lezen")
        a = areas()
        store = open_store()
        try:
            step("zones en acties berekenen")
            plan, ids = plan_witte_voeten(store, a, count=count, date=date,
                                          efficacy=efficacy, save=save)
        finally:
            store.close()
    for note in plan.notes:  # type: ignore[attr-defined]
        console.print(f"[yellow]Let op:[/] {note}", highlight=False)
    sites = plan.sites  # type: ignore[attr-defined]
    out.print(plan.summary(), highlight=False)  # type: ignore[attr-defined]
    if len(sites):
        from .tables import headers, table

        out.print(table(sites, headers(WITTE_VOETEN_COLUMNS, cell_id="cel"), digits=4),
                  highlight=False, soft_wrap=True)
    if out_file is not None:
        data = json.loads(sites.to_crs(WGS84).to_json(drop_id=True))
        out_file.write_text(json.dumps(data, ensure_ascii=False))
        console.print(f"Geschreven: {out_file} ({len(sites)} acties, WGS84)")
    if ids:
        console.print(f"Opgeslagen als inzet: {', '.join(map(str, ids))}")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
