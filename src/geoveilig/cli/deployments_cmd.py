"""``geoveilig deployments add|import|list|place|end|cancel|delete|export``: the deployments
registry and its cycle (gepland -> geplaatst -> beëindigd, or geannuleerd). The work is done by
``store.deployments``, ``placement.service.deployments_from_plan`` and
``deployment_files``; this module only reads options and prints."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import RD_NEW
from ..errors import ImportRejected, InvalidInput
from .common import areas, console, handle_errors, open_store, out, progress_steps

#: the keys of ``store.deployments.KINDS``, written out so that ``--help`` does not import the
#: store (tests/test_cli_dutch.py checks that they are the same)
KIND_NAMES = ("alarm", "camera", "buurttent", "witte-voeten")
STATUS_NAMES = ("gepland", "geplaatst", "beëindigd", "geannuleerd")  # store.deployments.STATUSES

deployments_app = typer.Typer(
    help="Inzet (alarmsystemen, camera's, BuurtTent): vastleggen, plaatsen, beëindigen, "
         "annuleren, in- en uitvoer.", no_args_is_help=True)


def _ranks(text: str) -> list[int]:
    try:
        return [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        raise typer.BadParameter("verwacht rangnummers, bijv. 1,2,3", param_hint="--ranks") \
            from None


@deployments_app.command("add")
@handle_errors
def add_cmd(
    kind: str | None = typer.Option(None, "--kind", help=f"soort: {', '.join(KIND_NAMES)}"),
    x: float | None = typer.Option(None, "--x", help="RD x (m)"),
    y: float | None = typer.Option(None, "--y", help="RD y (m)"),
    lon: float | None = typer.Option(None, "--lon", help="WGS84 lengte (in plaats van x/y)"),
    lat: float | None = typer.Option(None, "--lat", help="WGS84 breedte"),
    radius: float | None = typer.Option(None, "--radius", help="straal in meters"),
    label: str | None = typer.Option(None, "--label", help="omschrijving"),
    start: str | None = typer.Option(None, "--start",
                                     help="werkelijke start (al geplaatst), JJJJ-MM-DD"),
    planned_start: str | None = typer.Option(None, "--planned-start",
                                             help="geplande start (status gepland)"),
    planned_end: str | None = typer.Option(None, "--planned-end", help="gepland einde"),
    plan: int | None = typer.Option(None, "--plan", help="maak inzet van plaatsen uit dit plan"),
    ranks: str | None = typer.Option(None, "--ranks", help="rangen uit het plan, bijv. 1,2"),
    note: str | None = typer.Option(None, "--note", help="notitie"),
) -> None:
    """Leg één inzet vast (een plek), of geplande inzet voor gekozen plaatsen uit een plan
    (--plan N --ranks 1,2)."""
    import geopandas as gpd
    import shapely

    from ..placement.service import deployments_from_plan
    from ..store.deployments import (
        KINDS,
        add_deployments,
    )

    with open_store() as store:
        if plan is not None:
            if not ranks:
                raise typer.BadParameter("geef --ranks bij --plan", param_hint="--ranks")
            ids = deployments_from_plan(store, plan, _ranks(ranks), planned_start=planned_start,
                                        planned_end=planned_end, note=note)
        else:
            if kind is None:
                raise typer.BadParameter(f"kies een soort: {', '.join(KINDS)}",
                                         param_hint="--kind")
            if x is not None and y is not None:
                point = gpd.GeoSeries([shapely.Point(x, y)], crs=RD_NEW)
            elif lon is not None and lat is not None:
                point = gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326").to_crs(RD_NEW)
            else:
                raise typer.BadParameter("geef --x en --y (RD) of --lon en --lat (WGS84)",
                                         param_hint="--x/--y")
            found = areas().assign(point.x.to_numpy(), point.y.to_numpy()).iloc[0]
            if found["buurt_code"] is None:
                raise InvalidInput("de plek ligt buiten de gemeente", where="--x/--y")
            frame = gpd.GeoDataFrame([{
                "kind": kind, "label": label, "radius_m": radius, "start": start,
                "planned_start": planned_start, "planned_end": planned_end, "note": note,
                "buurt_code": found["buurt_code"], "wijk_code": found["wijk_code"],
                "source": "geoveilig deployments add"}], geometry=point.values, crs=RD_NEW)
            ids = add_deployments(store, frame)
    out.print(f"Vastgelegd: inzet {', '.join(map(str, ids))}.")


@deployments_app.command("import")
@handle_errors
def import_cmd(
    file: Path = typer.Argument(
        ..., metavar="BESTAND", help="CSV of GeoJSON met inzet"),
    partial: bool = typer.Option(False, "--partial", help="lees de geldige rijen in, ook als "
                                                          "er foute rijen zijn"),
    rejects: Path | None = typer.Option(None, "--rejects",
                                        help="schrijf de afgewezen rijen naar dit CSV-bestand"),
    crs: str | None = typer.Option(None, "--crs", help="x/y zijn 'rd' (standaard) of 'wgs84'"),
) -> None:
    """Lees inzet in (CSV of GeoJSON, RD of WGS84); een export kan opnieuw ingelezen worden."""
    from ..deployment_files import import_deployments, parse_deployments
    from ..safecsv import to_csv

    if not file.is_file():
        raise typer.BadParameter(f"bestand '{file}' bestaat niet", param_hint="BESTAND")
    if crs not in (None, "rd", "wgs84"):
        raise typer.BadParameter("kies rd of wgs84", param_hint="--crs")
    parsed = parse_deployments(file.read_bytes(), file.name, areas=areas(),
                               crs=crs)  # type: ignore[arg-type]
    with open_store() as store:
        try:
            result = import_deployments(store, parsed, source_name=file.name, partial=partial)
        except ImportRejected as exc:
            if rejects is not None:
                to_csv(exc.rejects, rejects, index=False)
                console.print(f"Afgewezen rijen geschreven naar {rejects}")
            raise
    if rejects is not None and len(result.rejects):
        to_csv(result.rejects, rejects, index=False)
        console.print(f"{result.rejected} afgewezen rij(en) geschreven naar {rejects}")
    out.print(f"Klaar. {result.message()}.")


@deployments_app.command("list")
@handle_errors
def list_cmd(
    kind: str | None = typer.Option(None, "--kind", help=f"soort: {', '.join(KIND_NAMES)}"),
    status: str | None = typer.Option(None, "--status", help=f"status: {', '.join(STATUS_NAMES)}"),
) -> None:
    """De inzet in het register, met status en (geplande) periode."""
    with progress_steps("inzet", 1) as step:
        step("opslag openen en inzet lezen")
        from ..store.deployments import (
            STATUSES,
            list_deployments,
        )

        if status is not None and status not in STATUSES:
            raise typer.BadParameter(f"kies uit {', '.join(STATUSES)}", param_hint="--status")
        with open_store() as store:
            frame = list_deployments(store, kinds=[kind] if kind else None,
                                     statuses=[status] if status else None)
    if frame.empty:
        out.print("Geen inzet gevonden.")
        return
    from .tables import table as people_table

    shown = frame.copy()
    for c in ("planned_start", "start", "end"):
        shown[c] = shown[c].dt.strftime("%Y-%m-%d")
    headers = {"id": "inzet", "kind": "soort", "status": "status", "label": "naam",
               "planned_start": "gepland", "start": "geplaatst", "end": "beëindigd",
               "plan_id": "plan", "plan_rank": "rang in plan", "buurt_code": "buurtcode"}
    out.print(people_table(shown, headers, digits=0), highlight=False, soft_wrap=True)


@deployments_app.command("place")
@handle_errors
def place_cmd(deployment_id: int = typer.Argument(
        ..., metavar="INZET", help="inzetnummer"),
              at: str = typer.Option(..., "--at", help="geplaatst op (JJJJ-MM-DD)")) -> None:
    """Geplande inzet is geplaatst (gepland -> geplaatst)."""
    from ..store.deployments import (
        place_deployment,
    )

    with open_store() as store:
        place_deployment(store, deployment_id, at)
    out.print(f"Inzet {deployment_id} geplaatst op {at}.")


@deployments_app.command("end")
@handle_errors
def end_cmd(deployment_id: int = typer.Argument(
        ..., metavar="INZET", help="inzetnummer"),
            at: str = typer.Option(..., "--at", help="beëindigd op (JJJJ-MM-DD)")) -> None:
    """Geplaatste inzet beëindigen (geplaatst -> beëindigd)."""
    from ..store.deployments import (
        end_deployment,
    )

    with open_store() as store:
        end_deployment(store, deployment_id, at)
    out.print(f"Inzet {deployment_id} beëindigd op {at}.")


@deployments_app.command("cancel")
@handle_errors
def cancel_cmd(deployment_id: int = typer.Argument(
        ..., metavar="INZET", help="inzetnummer")) -> None:
    """Geplande inzet annuleren (gepland -> geannuleerd)."""
    from ..store.deployments import (
        cancel_deployment,
    )

    with open_store() as store:
        cancel_deployment(store, deployment_id)
    out.print(f"Inzet {deployment_id} geannuleerd.")


@deployments_app.command("delete")
@handle_errors
def delete_cmd(deployment_id: int = typer.Argument(
        ..., metavar="INZET", help="inzetnummer")) -> None:
    """Geplande inzet verwijderen (alleen zolang hij gepland is)."""
    from ..store.deployments import (
        remove_deployment,
    )

    with open_store() as store:
        remove_deployment(store, deployment_id)
    out.print(f"Inzet {deployment_id} verwijderd.")


@deployments_app.command("export")
@handle_errors
def export_cmd(
    out_file: Path = typer.Option(..., "--out", help="uitvoer: .csv of .geojson"),
    crs: str = typer.Option("rd", "--crs", help="rd (standaard) of wgs84"),
    kind: str | None = typer.Option(None, "--kind", help=f"soort: {', '.join(KIND_NAMES)}"),
) -> None:
    """Schrijf het register naar CSV (veilig voor spreadsheets) of GeoJSON."""
    from ..deployment_files import export_deployments
    from ..store.deployments import (
        list_deployments,
    )

    if crs not in ("rd", "wgs84"):
        raise typer.BadParameter("kies rd of wgs84", param_hint="--crs")
    suffix = out_file.suffix.lower()
    fmt = "csv" if suffix == ".csv" else "geojson" if suffix in (".geojson", ".json") else None
    if fmt is None:
        raise typer.BadParameter("gebruik .csv of .geojson", param_hint="--out")
    with open_store() as store:
        frame = list_deployments(store, kinds=[kind] if kind else None)
    out_file.write_bytes(export_deployments(frame, fmt, crs))  # type: ignore[arg-type]
    console.print(f"Geschreven: {out_file} ({len(frame)} inzetten, {crs.upper()})")


def register(app: typer.Typer) -> None:
    app.add_typer(deployments_app, name="deployments")
