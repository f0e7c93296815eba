"""``geoveilig demo [--seed N]``: load the synthetic demo data into the store: Helmond's
(following the seed table) and, with several gemeenten configured, scaled synthetic incidents
for each other one (``demo.generate_generic``)."""

from __future__ import annotations

import hashlib

import typer

from .common import console, handle_errors, open_store, out, progress_steps, settings


@handle_errors
def demo_command(
    seed: int = typer.Option(42, "--seed", help="startwaarde van de toevalsgenerator"),
) -> None:
    """Maak SYNTHETISCHE demo-incidenten voor Helmond (2012 t/m het eerste kwartaal van 2018)
    en lees ze in via de gewone import. De jaartotalen per categorie volgen de tabel uit de
    evaluatie van het Aanvalsplan Veiligheid; plaatsen en tijden zijn verzonnen. Zijn er meer
    gemeenten ingesteld, dan krijgt elke andere gemeente ook synthetische incidenten: de
    aantallen van Helmond naar verhouding van haar aantal buurten, verspreid over haar
    buurten."""
    from .. import demo
    from ..demo.incidents import HELMOND
    from ..incidents import parse_incidents

    s = settings()
    with progress_steps("demo", 5) as step:
        step("grenzen")
        a = _boundaries(s, step)
        step("synthetische incidenten maken")
        incidents = demo.generate_for_gemeenten(a, seed=seed)
        path = demo.to_csv(incidents, s.data_dir / "demo" /
                           f"synthetische_incidenten_seed{seed}.csv")
        data = path.read_bytes()
        step(f"{path.name} lezen en controleren")
        parsed = parse_incidents(data, filename=path.name, areas=a)
        store = open_store(s)
        try:
            step("incidenten opslaan")
            summary = store.import_incidents(
                parsed, source_name=f"{path.name} (SYNTHETISCH)",
                content_sha256=hashlib.sha256(data).hexdigest(), synthetic=True)
            step("preventieregister en inzet")
            groups, deployments = None, 0
            if HELMOND in a.gemeente_codes:  # the registry and deployments are Helmond's
                helmond = a.select(HELMOND)
                ours = incidents if helmond is a else incidents[
                    incidents["buurt_code"].fillna("").astype(str)
                    .str.startswith("BU" + HELMOND[2:]).to_numpy()]
                groups = _load_prevention_demo(store, helmond, seed, ours)
                deployments = _load_deployments_demo(store, helmond)
        finally:
            store.close()
    out.print(f"Demo-gegevens (synthetisch, seed {seed}): {summary.accepted} incidenten "
              f"ingelezen, {summary.already_present} waren er al. Bestand: {path}")
    if len(a.gemeente_codes) > 1:
        names = dict(zip(a.gemeenten["code"], a.gemeenten["name"], strict=True))
        out.print("Per gemeente: " + ", ".join(
            f"{names.get(code, code)} ({code}) {n}"
            for code, n in summary.per_gemeente.items()) + ". Alleen Helmond volgt de "
            "gepubliceerde tabel; de andere gemeenten zijn naar hun aantal buurten geschaald.",
            highlight=False, soft_wrap=True)
    if groups is not None:
        out.print(f"Demo-preventieregister (synthetisch): {groups} groepen.")
    if deployments:
        out.print(f"Demo-inzet (synthetisch: alarmsystemen Annawijk, camera Haaglaan, "
                  f"BuurtTent 2017): {deployments} toegevoegd.")


def _boundaries(s, step):
    """The boundaries from ``GEOVEILIG_GEO_DIR``; on a fresh clone (no boundary file there)
    fetched from PDOK and saved there first. Offline: one Dutch line with what to do, exit 1."""
    from ..areas import holds_boundaries, load_or_fetch_areas
    from ..errors import AreaError

    if not holds_boundaries(s.geo_dir):
        step(f"geen grenzen in {s.geo_dir}: ophalen bij PDOK ({s.gemeente}, {s.year})",
             advance=False)
    try:
        a, paths = load_or_fetch_areas(s.geo_dir, s.gemeente, s.year, s.pdok_url)
    except AreaError as exc:
        console.print(f"[bold red]Fout:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if paths:
        out.print(f"Grenzen van {a.gemeente_name} opgeslagen in {s.geo_dir}: "
                  f"{len(a.wijken)} wijken, {len(a.buurten)} buurten (bron: CBS/Kadaster "
                  f"via PDOK, {s.year}).", highlight=False, soft_wrap=True)
    return a


def _load_prevention_demo(store, a, seed, incidents):
    """The synthetic prevention registry (``geoveilig.demo.prevention``), placed by the demo
    burglaries; an existing real registry is kept (with a warning)."""
    from ..demo.prevention import demo_prevention_groups
    from ..errors import InvalidInput
    from ..store.prevention import load_demo_registry

    registry = demo_prevention_groups(a, seed=seed, incidents=incidents)
    try:
        result = load_demo_registry(
            store, registry, source_name=f"demo-preventiegroepen seed {seed} (SYNTHETISCH)",
            known_buurten=list(a.buurten["code"]), actor="cli")
    except InvalidInput as exc:
        console.print(f"[yellow]Let op:[/] {exc}", highlight=False)
        return None
    return result["total"]


def _load_deployments_demo(store, a) -> int:
    """The deployments the source document names (``geoveilig.demo.deployments``), added
    once: nothing is added when the registry already holds deployments."""
    from ..demo.deployments import demo_deployments
    from ..store.deployments import add_deployments, list_deployments

    if len(list_deployments(store)):
        return 0
    return len(add_deployments(store, demo_deployments(a)))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
