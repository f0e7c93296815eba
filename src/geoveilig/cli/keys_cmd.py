"""``geoveilig keys create --role analyst|police --name N``, ``keys revoke ID``, ``keys list``."""

from __future__ import annotations

import typer

from .common import handle_errors, open_store, out, settings

keys_app = typer.Typer(help="API-sleutels voor de webservice (rollen analyst en police).",
                       no_args_is_help=True)


@keys_app.command("create")
@handle_errors
def create(
    role: str = typer.Option(..., "--role", help="rol: analyst (gemeente) of police"),
    name: str = typer.Option(..., "--name", help="wie of welk systeem de sleutel gebruikt"),
    gemeente: str | None = typer.Option(
        None, "--gemeente", help="de rol geldt alleen voor deze gemeente(n), bijv. GM0794 "
                                 "(komma-gescheiden; standaard alle gemeenten)"),
) -> None:
    """Maak een nieuwe API-sleutel. De sleutel wordt maar één keer getoond."""
    from ..store.keys import create_key

    store = open_store()
    try:
        record, key = create_key(store, name, role, gemeente)
    finally:
        store.close()
    where = f", alleen {', '.join(record.gemeenten)}" if record.gemeenten else ""
    out.print(f"Sleutel {record.key_id} voor '{record.name}' (rol {record.role}{where}) "
              "gemaakt. Bewaar hem nu; hij wordt niet opnieuw getoond:", highlight=False)
    out.print(key, highlight=False, soft_wrap=True)


@keys_app.command("revoke")
@handle_errors
def revoke(key_id: str = typer.Argument(..., metavar="SLEUTEL",
                               help="id van de sleutel (zie keys list)")) -> None:
    """Trek een API-sleutel in."""
    from ..store.keys import revoke_key

    store = open_store()
    try:
        record = revoke_key(store, key_id)
    finally:
        store.close()
    out.print(f"Sleutel {record.key_id} ('{record.name}', rol {record.role}) ingetrokken.",
              highlight=False)


@keys_app.command("list")
@handle_errors
def list_() -> None:
    """Toon de sleutels (zonder geheimen)."""
    from ..quickread import api_keys

    rows = api_keys(settings().resolved_database_url())  # fast: no store package
    if rows is None:  # a new or unmigrated database: the store creates the schema
        from ..store.keys import list_keys

        store = open_store()
        try:
            rows = list(list_keys(store).itertuples(index=False, name=None))
        finally:
            store.close()
    if not rows:
        typer.echo("Geen sleutels.")
    for key_id, name, role, _created, revoked_at, gemeente in rows:  # plain text: no rich
        state = "ingetrokken" if revoked_at is not None and revoked_at == revoked_at \
            else "actief"
        only = f"  (alleen {gemeente.replace(',', ', ')})" if isinstance(gemeente, str) and \
            gemeente else ""
        typer.echo(f"{key_id}  {role:8}  {state:11}  {name}{only}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
