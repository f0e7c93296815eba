"""``geoveilig keys create --role analyst|police --name N``, ``keys revoke ID``, ``keys list``."""

from __future__ import annotations

import typer

from .common import handle_errors, open_store, out

keys_app = typer.Typer(help="API-sleutels voor de webservice (rollen analyst en police).",
                       no_args_is_help=True)


@keys_app.command("create")
@handle_errors
def create(
    role: str = typer.Option(..., "--role", help="rol: analyst (gemeente) of police"),
    name: str = typer.Option(..., "--name", help="wie of welk systeem de sleutel gebruikt"),
) -> None:
    """Maak een nieuwe API-sleutel. De sleutel wordt maar één keer getoond."""
    from ..store.keys import create_key

    store = open_store()
    try:
        record, key = create_key(store, name, role)
    finally:
        store.close()
    out.print(f"Sleutel {record.key_id} voor '{record.name}' (rol {record.role}) gemaakt. "
              "Bewaar hem nu; hij wordt niet opnieuw getoond:", highlight=False)
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
    from ..store.keys import list_keys

    store = open_store()
    try:
        frame = list_keys(store)
    finally:
        store.close()
    if frame.empty:
        out.print("Geen sleutels.")
    for r in frame.itertuples(index=False):
        state = "ingetrokken" if r.revoked_at is not None and r.revoked_at == r.revoked_at \
            else "actief"
        out.print(f"{r.key_id}  {r.role:8}  {state:11}  {r.name}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
