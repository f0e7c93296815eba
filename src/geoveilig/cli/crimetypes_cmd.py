"""``geoveilig crimetypes [--format table|csv]``: every accepted name, code and synonym."""

from __future__ import annotations

import typer

from .common import handle_errors

_KEYS = {"slug": "slug", "label": "label", "kind": "soort", "name": "naam"}


@handle_errors
def crimetypes_command(
    fmt: str = typer.Option("table", "--format", help="table of csv (met ;)"),
) -> None:
    """Toon elk misdrijftype met alle namen, politiecodes, politieklassen en synoniemen die
    'geoveilig import' en --crime-type accepteren (hoofdletters en meervoud maken niet uit)."""
    if fmt not in ("table", "csv"):
        raise typer.BadParameter(f"kies table of csv, niet '{fmt}'", param_hint="--format")
    import pandas as pd

    from .. import crimetypes, safecsv
    from .common import out

    frame = pd.DataFrame(crimetypes.catalogue()).rename(columns=_KEYS)
    if fmt == "csv":
        text = safecsv.to_csv(frame, sep=";", index=False)
        out.print(text, end="", highlight=False, markup=False, soft_wrap=True)
        return
    for slug, rows in frame.groupby("slug", sort=False):
        out.print(f"{slug} — {rows['label'].iloc[0]}", highlight=False, markup=False)
        for kind, names in rows.groupby("soort", sort=False):
            if kind == "slug":
                continue
            word = "naam" if kind == "label" else kind
            out.print(f"  {word}: " + "; ".join(names["naam"]), highlight=False, markup=False,
                      soft_wrap=True)
    out.print("Groepen (voor --crime-type): " + ", ".join(crimetypes.GROUPS),
              highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("crimetypes")(crimetypes_command)
