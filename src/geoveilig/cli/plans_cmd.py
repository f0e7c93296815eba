"""``geoveilig plans list|show|export``: the stored planning runs (``store.plans``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import typer

from .. import WGS84
from .common import console, handle_errors, open_store, out, progress_steps

plans_app = typer.Typer(help="Opgeslagen plannen (elke adviesrun): lijst, details, export.",
                        no_args_is_help=True)


#: Dutch headers of the plan tables (``cli.tables``)
PLAN_HEADERS = {"id": "plan", "kind": "soort", "created_at": "gemaakt", "actor": "door",
                "n_nieuw": "nieuw", "n_verplaatst": "verplaatst", "n_bestaand": "bestaand",
                "objective": "doel", "objective_unit": "eenheid van het doel"}
SITE_HEADERS = {"rank": "rang", "status": "status", "date": "datum",
                "expected_covered": "verwacht gedekt", "buurt_code": "buurtcode",
                "buurt_name": "buurt", "moved_from": "verplaatst van"}


@plans_app.command("list")
@handle_errors
def list_cmd(
    kind: str | None = typer.Option(None, "--kind", help="alarms, cameras of buurttent"),
) -> None:
    """Alle opgeslagen plannen, nieuwste eerst."""
    with progress_steps("plannen", 1) as step:
        step("opslag openen en plannen lezen")
        from ..store.plans import PLAN_KINDS, list_plans

        if kind is not None and kind not in PLAN_KINDS:
            raise typer.BadParameter(f"kies uit {', '.join(PLAN_KINDS)}", param_hint="--kind")
        with open_store() as store:
            frame = list_plans(store, kind=kind)
    if frame.empty:
        out.print("Nog geen plannen opgeslagen (geoveilig recommend ... of de kaart).")
        return
    from .tables import table as people_table

    shown = frame.copy()
    shown["created_at"] = shown["created_at"].dt.strftime("%Y-%m-%d %H:%M")
    out.print(people_table(shown, PLAN_HEADERS, digits=2), highlight=False, soft_wrap=True)


@plans_app.command("show")
@handle_errors
def show_cmd(plan_id: int = typer.Argument(..., metavar="PLAN", help="plannummer")) -> None:
    """Eén plan: parameters, wie en wanneer, doel met eenheid, en alle plaatsen."""
    with progress_steps("plan", 1) as step:
        step("opslag openen en plan lezen")
        import pandas as pd

        from ..store.plans import get_plan, plan_sites

        with open_store() as store:
            plan = get_plan(store, plan_id)
            sites = plan_sites(store, plan_id)
    out.print(f"Plan {plan['id']} ({plan['kind']}), {plan['created_at']:%Y-%m-%d %H:%M} door "
              f"{plan['actor']} (rol {plan['role']})", highlight=False)
    out.print(plan["summary"], highlight=False)
    from .tables import cell, settings_line
    from .tables import table as people_table

    gap = "onbekend" if plan["gap"] is None or pd.isna(plan["gap"]) else \
        f"{cell(100 * plan['gap'], 1)}%"
    out.print(f"Doel: {cell(plan['objective'], 2)} ({plan['objective_unit']}); bovengrens "
              f"{cell(plan['bound'], 2)}; gat hoogstens {gap}; {plan['status']}",
              highlight=False)
    out.print(f"Instellingen: {settings_line(plan['params'])}", highlight=False)
    version = hashlib.sha256(str(plan["data_version"]).encode()).hexdigest()[:12]
    out.print(f"Gegevensversie (kenmerk): {version}", highlight=False)
    for note in plan["notes"]:
        out.print(f"Let op: {note}", highlight=False)

    headers = {c: h for c, h in SITE_HEADERS.items() if c in sites}
    out.print(people_table(sites, headers, digits=3), highlight=False, soft_wrap=True)


@plans_app.command("export")
@handle_errors
def export_cmd(
    plan_id: int = typer.Argument(..., metavar="PLAN", help="plannummer"),
    out_file: Path = typer.Option(..., "--out", help="uitvoer: .geojson of .csv"),
    crs: str = typer.Option("wgs84", "--crs", help="wgs84 (standaard) of rd"),
) -> None:
    """Schrijf de plaatsen van een plan naar GeoJSON of CSV (met x/y of lon/lat)."""
    from ..safecsv import to_csv
    from ..store.plans import get_plan, plan_sites

    if crs not in ("wgs84", "rd"):
        raise typer.BadParameter("kies wgs84 of rd", param_hint="--crs")
    with open_store() as store:
        plan = get_plan(store, plan_id)
        sites = plan_sites(store, plan_id)
    sites = sites.assign(kind=plan["kind"])
    suffix = out_file.suffix.lower()
    if suffix in (".geojson", ".json"):
        frame = sites.to_crs(WGS84) if crs == "wgs84" else sites
        doc = json.loads(frame.to_json(drop_id=True))
        if crs == "rd":
            doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}
        doc["plan"] = {k: (str(v) if k == "created_at" else v) for k, v in plan.items()}
        out_file.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
    elif suffix == ".csv":
        table = sites.drop(columns=["geometry"])
        if crs == "rd":
            table["x"], table["y"] = sites.geometry.x.round(2), sites.geometry.y.round(2)
        else:
            wgs = sites.geometry.to_crs(WGS84)
            table["lon"], table["lat"] = wgs.x.round(7), wgs.y.round(7)
        to_csv(table, out_file, index=False, sep=";")
    else:
        raise typer.BadParameter("gebruik .geojson of .csv", param_hint="--out")
    console.print(f"Geschreven: {out_file} ({len(sites)} plaatsen van plan {plan_id})")


def register(app: typer.Typer) -> None:
    app.add_typer(plans_app, name="plans")
