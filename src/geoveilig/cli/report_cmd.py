"""``geoveilig report``: the comparison table (chapter 2 of the evaluation) per gemeente, wijk or
buurt as a table, CSV, JSON or a self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from ..errors import InvalidInput
from .common import GEMEENTE_HELP, console, handle_errors, out, progress_steps, scoped, settings

if TYPE_CHECKING:  # imported where used: a fast --help
    from .. import stats

FORMATS = ("table", "csv", "json", "html")


def _rule(threshold: int, mode: str, preset: str | None, suppress: list[str],
          show: list[str]) -> stats.LowCountRule:
    from .. import stats

    if preset not in (None, "default", "seed"):
        raise InvalidInput(f"onbekende instelling '{preset}': kies default of seed",
                           where="--preset")
    base = (stats.LowCountRule.seed() if preset == "seed"
            else stats.LowCountRule(threshold=threshold, mode=mode))  # type: ignore[arg-type]
    sup = frozenset(base.suppress | {stats.LowCountRule.parse_override(s) for s in suppress})
    shw = frozenset(base.show | {stats.LowCountRule.parse_override(s) for s in show})
    return stats.LowCountRule(threshold=base.threshold, mode=base.mode, suppress=sup, show=shw)


def _target(year: int | None, quarter: int | None, period: str | None) -> stats.Period:
    from .. import stats

    if period:
        return stats.Period.parse(period)
    if year is None:
        raise InvalidInput("geef een jaar op met --year (of een periode met --period)",
                           where="--year")
    return stats.Period.of_quarter(year, quarter) if quarter else stats.Period.of_year(year)


def register(app: typer.Typer) -> None:
    @app.command("report")
    @handle_errors
    def report(
        year: int | None = typer.Option(None, "--year", help="jaar, bijv. 2017"),
        quarter: int | None = typer.Option(None, "--quarter",
                                           help="kwartaal 1-4 van --year, vergeleken met "
                                                "hetzelfde kwartaal eerder"),
        period: str | None = typer.Option(None, "--period",
                                          help="andere periode: 2018-Q1, 2017-03, 2017-W10 of "
                                               "2017-01-01/2017-06-30"),
        level: str = typer.Option("gemeente", "--level", help="gemeente, wijk of buurt"),
        fmt: str = typer.Option("table", "--format", help="table, csv, json of html"),
        out_file: Path | None = typer.Option(None, "--out", help="schrijf naar dit bestand"),
        crime_type: str | None = typer.Option(
            None, "--crime-type", help="regels: categorieën en/of groepen, bijv. totaal,hic "
                                       "(standaard de regels van de evaluatietabel)"),
        compare_with: str = typer.Option("1,5", "--compare",
                                         help="vergelijk met zoveel jaar eerder, bijv. 1,5"),
        low_count: int = typer.Option(20, "--low-count",
                                      help="drempel voor kleine aantallen (-*)"),
        low_count_mode: str = typer.Option(
            "both", "--low-count-mode",
            help="both: -* als beide aantallen onder de drempel liggen; either: als één van "
                 "beide dat doet; off: nooit"),
        preset: str | None = typer.Option(
            None, "--preset",
            help="seed: de instelling die de tabel van de evaluatie 2017 precies nabootst "
                 "(-* bij beide aantallen onder 20, Winkeldiefstallen 1 jaar altijd -*, "
                 "5-jaarsverschil afgekapt i.p.v. afgerond)"),
        rounding: str | None = typer.Option(
            None, "--rounding",
            help="half-away (standaard: afronden, 0,5 van nul af), truncate (afkappen), of "
                 "per vergelijking, bijv. 1:half-away,5:truncate"),
        suppress: list[str] = typer.Option(
            [], "--suppress", help="altijd -* voor categorie[:jaren], bijv. winkeldiefstal:1 "
                                   "(herhaalbaar)"),
        show: list[str] = typer.Option(
            [], "--show", help="altijd een percentage voor categorie[:jaren] (herhaalbaar)"),
        alpha: float = typer.Option(0.05, "--alpha", help="significantieniveau"),
        extra: list[str] = typer.Option(
            [], "--extra-period",
            help="extra vergelijking in het HTML-rapport, bijv. 2018-Q1 (herhaalbaar)"),
        signals: bool = typer.Option(True, "--signals/--no-signals",
                                     help="significantie naast de percentages tonen"),
        gemeente: str | None = typer.Option(None, "--gemeente", help=GEMEENTE_HELP),
    ) -> None:
        """Maak de tabel 'Hoe staat de stad ervoor?': aantallen, verschil met 1 en 5 jaar
        eerder, -* bij kleine aantallen en significantie, per gemeente, wijk of buurt."""
        from .. import stats
        from ..report_service import ReportRequest, evaluation_report

        if fmt not in FORMATS:
            raise InvalidInput(f"onbekend formaat '{fmt}': kies {', '.join(FORMATS)}",
                               where="--format")
        if level not in ("gemeente", "wijk", "buurt"):
            raise InvalidInput(f"onbekend niveau '{level}': kies gemeente, wijk of buurt",
                               where="--level")
        target = _target(year, quarter, period)
        rule = _rule(low_count, low_count_mode, preset, suppress, show)
        stats.parse_rounding(rounding)  # fail early on a bad value
        try:
            years_back = tuple(int(x) for x in compare_with.split(",") if x.strip())
        except ValueError:
            raise InvalidInput(f"ongeldige waarde '{compare_with}': gebruik bijv. 1,5",
                               where="--compare") from None
        rows = stats.resolve_rows(crime_type) if crime_type else None
        extras = tuple(stats.Period.parse(x) for x in extra)
        round_spec = rounding or (stats.SEED_ROUNDING if preset == "seed" else None)
        req = ReportRequest(target=target, fmt=fmt, level=cast("stats.Level", level),
                            rows=rows, rule=rule,
                            rounding=round_spec, years_back=years_back, alpha=alpha,
                            extra_periods=extras, signals=signals)
        s = settings()
        with progress_steps("rapport", 2) as step:
            step("grenzen lezen")
            a, store = scoped(gemeente, s=s)
            try:
                step("aantallen tellen en toetsen")
                made = evaluation_report(store, a, req)
            finally:
                store.close()
        label = f"gepubliceerde aantallen {target.label}" if made.published else target.label
        _write(made.text, out_file, fmt, label)


def _write(text: str, out_file: Path | None, fmt: str, label: str) -> None:
    if out_file is not None:
        out_file.write_text(text, encoding="utf-8")
        console.print(f"Geschreven: {out_file} ({fmt}, {label})", highlight=False)
    else:
        out.print(text, end="", highlight=False, markup=False, soft_wrap=True)
