"""``geoveilig export --out F.csv|F.gpkg``: the stored incidents in the import format."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer

from .. import RD_NEW, crimetypes
from ..errors import InvalidInput
from .common import handle_errors, out, progress_steps, scoped

_FORMATS = {".csv": "csv", ".gpkg": "gpkg"}


@handle_errors
def export_command(
    out_file: Path = typer.Option(..., "--out", help="doelbestand: .csv of .gpkg (GeoPackage)"),
    period: str | None = typer.Option(None, "--period",
                                      help="alleen deze periode, bijv. 2017, 2017-Q3, 2017-05 "
                                           "of 2016-01-01..2017-07-01"),
    crime_type: str | None = typer.Option(None, "--crime-type",
                                          help="misdrijftype of groep (bijv. woninginbraak, "
                                               "hic), meerdere met komma's"),
    area: list[str] = typer.Option([], "--area",
                                   help="alleen deze wijk- of buurtcode (herhaalbaar)"),
    gemeente: str | None = typer.Option(None, "--gemeente",
                                        help="alleen de incidenten van deze gemeente(n) "
                                             "(standaard alle ingestelde)"),
) -> None:
    """Schrijf de opgeslagen incidenten weg in het importformaat (CSV met ; of GeoPackage in
    RD New), met de toegekende buurt- en wijkcode. Incidentlocaties zijn persoonsgegevens:
    elke export wordt in het auditlog vastgelegd."""
    import geopandas as gpd

    from ..incidents import export_table
    from ..stats import Period

    kind = _FORMATS.get(out_file.suffix.lower())
    if kind is None:
        raise typer.BadParameter(f"'{out_file.name}': gebruik de extensie .csv of .gpkg",
                                 param_hint="--out")
    filters: dict[str, object] = {}
    if period is not None:
        p = Period.parse(period)
        filters.update(start=p.start, end=p.end)
    if crime_type is not None:
        filters["crime_types"] = list(crimetypes.expand(crime_type))
    if area:
        filters["area_codes"] = list(area)
    with progress_steps("export", 2) as step:
        _a, store = scoped(gemeente, required=False)
        try:
            step("incidenten lezen")
            incidents = store.incidents(**filters)
            if incidents.empty:
                raise InvalidInput("geen incidenten gevonden voor deze selectie; er is niets "
                                   "geschreven")
            step(f"{out_file.name} schrijven")
            table = export_table(incidents)
            from .. import safecsv

            if kind == "csv":
                safecsv.to_csv(table, out_file, sep=";", index=False)  # formulas neutralised
            else:
                gdf = gpd.GeoDataFrame(table, geometry=incidents.geometry.values, crs=RD_NEW)
                out_file.unlink(missing_ok=True)
                gdf.to_file(out_file, driver="GPKG", layer="incidenten", engine="pyogrio")
            store.audit(getpass.getuser(), "export-incidents", out_file.name, json.dumps(
                {"rows": len(table), "period": period, "crime_type": crime_type, "area": area,
                 "gemeente": gemeente}))
        finally:
            store.close()
    out.print(f"{len(table)} incidenten geschreven naar {out_file}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
