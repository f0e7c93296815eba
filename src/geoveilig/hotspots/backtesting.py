"""Rolling-origin backtest of the forecasting methods, with a success criterion declared before
the data are scored.

For each origin (by default every 14 days through the last year of data, the last origin one
window before the end of the data) every method is run on the events strictly before the origin
and scored on the events in ``[origin, origin + window)``: hit rate, PAI and PEI at 1%, 5% and
10% of the area (:mod:`.metrics`). The naive baseline is always included.

Summary per method: the mean over the origins and a percentile bootstrap interval (resampling
origins with replacement, the same resamples for every method, seeded). When the windows of
consecutive origins overlap (step shorter than the window) their scores are not independent:
the bootstrap then resamples moving blocks of ``ceil(window / step)`` consecutive origins
(:func:`bootstrap_indices`) and a warning says so. Origins where the window
is empty are left out of the summary (and counted); an origin where a method cannot run
(:class:`~geoveilig.errors.InvalidInput`, e.g. too little history) is recorded with its Dutch
message and left out for that method.

The success criterion (:class:`SuccessCriterion`, default: *mean PAI at 5% of the area above the
naive baseline's and the lower end of its 95% bootstrap interval above 1, over at least 10
origins with incidents*) is fixed before the scores exist; :class:`BacktestResult` says for
every method whether it is met. The best method is the one with the highest mean of the
criterion's metric among those that meet it; when none does, the highest mean overall is
reported with ``criterion_met=False`` and a verdict that says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import safecsv
from ..errors import GeoveiligError, InvalidInput
from .events import Events, InsufficientData, as_events, as_timestamp, format_window, parse_window
from .grid import Grid
from .methods import METHOD_LABELS, METHODS, run_method
from .metrics import scores

DEFAULT_METHODS = ("naive", "kde", "prospective", "gistar", "learned", "emerging", "combined")
COVERAGES = (0.01, 0.05, 0.10)


@dataclass(frozen=True)
class SuccessCriterion:
    """A forecast is useful when its mean ``metric`` over the origins is above the
    ``baseline``'s and the lower end of its ``level`` bootstrap interval is above
    ``min_lower``, scored on at least ``min_origins`` origins with incidents in the window
    (fewer origins give no verdict: a bootstrap over two values says nothing)."""

    metric: str = "pai_5"
    baseline: str = "naive"
    level: float = 0.95
    min_lower: float = 1.0
    min_origins: int = 10

    def describe(self) -> str:
        what = {"pai": "PAI", "hit": "trefkans", "pei": "PEI"}.get(self.metric.split("_")[0],
                                                                   self.metric)
        pct = self.metric.split("_")[1] if "_" in self.metric else ""
        return (f"{what} bij {pct}% van het oppervlak gemiddeld hoger dan die van de methode "
                f"'{self.baseline}', met de ondergrens van het {self.level:.0%}-bootstrapinterval "
                f"boven {self.min_lower:g}, over minstens {self.min_origins} startmomenten met "
                "incidenten")


def rolling_origins(incidents: object, window: object = "14d", *, step: object = "14d",
                    n_origins: int = 26, end: object | None = None,
                    min_history: object = "365d") -> list[pd.Timestamp]:
    """Origins every ``step`` (midnight, Europe/Amsterdam), the last one a full ``window``
    before ``end`` (default: the day after the last incident), the earliest at least
    ``min_history`` after the first incident. Raises ``InsufficientData`` if none fit."""
    ev = as_events(incidents)
    if len(ev) == 0:
        raise InsufficientData("backtest: geen incidenten")
    win, stp = parse_window(window), parse_window(step, "step")
    if n_origins < 1:
        raise InvalidInput(f"aantal startmomenten moet minstens 1 zijn, niet {n_origins}")
    stop = as_timestamp(end, "end") if end is not None else \
        (ev.last + pd.Timedelta(days=1)).normalize()
    last = (stop - win).normalize()
    if last + win > stop:
        last -= pd.Timedelta(days=1)
    earliest = ev.first + parse_window(min_history, "min_history")
    out = [last - i * stp for i in range(n_origins)]
    out = sorted(o for o in out if o >= earliest)
    if not out:
        raise InsufficientData(
            f"backtest: te weinig geschiedenis; het eerste incident is van "
            f"{ev.first:%Y-%m-%d} en er is minstens {format_window(parse_window(min_history))} "
            f"aan gegevens vóór een startmoment nodig")
    return out


def _nl(value: float) -> str:
    """A score for a Dutch sentence: two decimals, decimal comma."""
    return f"{value:.2f}".replace(".", ",")


@dataclass(frozen=True)
class BacktestResult:
    scores: pd.DataFrame  # one row per origin x method
    summary: pd.DataFrame  # one row per method
    criterion: SuccessCriterion
    best_method: str
    criterion_met: bool
    window: pd.Timedelta
    origins: tuple[pd.Timestamp, ...]
    crime_type: str | None = None
    n_boot: int = 2000
    seed: int = 0
    warnings: tuple[str, ...] = field(default=())
    #: origins per bootstrap block (1 = independent windows)
    block: int = 1

    @property
    def verdict(self) -> str:
        """One Dutch sentence for next to a surface."""
        row = self.summary.set_index("method").loc[self.best_method]
        m = self.criterion.metric
        scores_txt = (f"{m.upper().replace('_', '@')}% = {_nl(row[m])} "
                      f"(interval {_nl(row[m + '_low'])}-{_nl(row[m + '_high'])}, "
                      f"{int(row['n_origins'])} startmomenten)")
        label = METHOD_LABELS.get(self.best_method, self.best_method)
        if self.criterion_met:
            return (f"Beste methode: {label}; voldoet aan het vooraf vastgelegde criterium "
                    f"({self.criterion.describe()}): {scores_txt}.")
        return (f"Geen methode voldoet aan het vooraf vastgelegde criterium "
                f"({self.criterion.describe()}). Hoogste score: {label}, {scores_txt}. "
                "Gebruik deze kaart niet als voorspelling.")

    @property
    def end(self) -> pd.Timestamp:
        """The end of the last scored window: the backtest used data up to here."""
        return self.origins[-1] + self.window

    def verdict_for(self, method: str | None = None) -> dict[str, Any]:
        """The backtest facts for one method (default: the best), to store with a surface."""
        method = method or self.best_method
        s = self.summary.set_index("method")
        if method not in s.index:
            return {"backtested": False, "criterion": self.criterion.describe()}
        row = s.loc[method]
        m = self.criterion.metric
        return {
            "backtested": True,
            "method": method,
            "best_method": self.best_method,
            "criterion": self.criterion.describe(),
            "criterion_met": bool(row["meets_criterion"]),
            "metric": m,
            "score": float(row[m]),
            "score_low": float(row[m + "_low"]),
            "score_high": float(row[m + "_high"]),
            "baseline_score": float(s.loc[self.criterion.baseline, m])
            if self.criterion.baseline in s.index else float("nan"),
            "n_origins": int(row["n_origins"]),
            "window": format_window(self.window),
            "first_origin": self.origins[0].isoformat(),
            "last_origin": self.origins[-1].isoformat(),
            "crime_type": self.crime_type,
            "verdict": self.verdict,
        }

    def to_csv(self, path: str | Path | None = None, *, per_origin: bool = False) -> str:
        """The summary (or the per-origin scores) as CSV; written to ``path`` if given."""
        frame = self.scores if per_origin else self.summary
        text = safecsv.to_csv(frame, index=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def plot(self):  # type: ignore[no-untyped-def]
        from .plot import plot_backtest

        return plot_backtest(self)


def bootstrap_indices(n: int, block: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` resamples of ``n`` origin indices: moving blocks of ``block`` consecutive
    origins with random starts, concatenated and cut to ``n`` (``block=1`` is the ordinary
    bootstrap)."""
    block = max(1, min(int(block), n))
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)
    return idx[:, :n]


def overlap_block(origins: list[pd.Timestamp] | tuple[pd.Timestamp, ...],
                  window: pd.Timedelta) -> int:
    """Consecutive origins whose windows overlap: ``ceil(window / smallest step)``."""
    if len(origins) < 2:
        return 1
    step = min(b - a for a, b in pairwise(origins))
    if step <= pd.Timedelta(0):
        return len(origins)
    return max(1, int(np.ceil(window / step - 1e-9)))


def _bootstrap(values: np.ndarray, idx: np.ndarray, level: float) -> tuple[float, float]:
    sample = values[idx]
    n_ok = np.isfinite(sample).sum(axis=1)
    sums = np.where(np.isfinite(sample), sample, 0.0).sum(axis=1)
    boots = sums[n_ok > 0] / n_ok[n_ok > 0]
    if boots.size == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo, hi = np.quantile(boots, [a, 1 - a])
    return float(lo), float(hi)


@dataclass(frozen=True)
class _Work:
    """What every origin of one backtest is scored with."""

    ev: Events
    grid: Grid
    methods: tuple[str, ...]
    window: pd.Timedelta
    params: dict[str, dict[str, object]]
    coverages: tuple[float, ...]


def _score_origin(work: _Work, origin: pd.Timestamp) -> list[dict[str, object]]:
    """The scores of every method at one origin (each method is vectorised)."""
    ev, grid, area = work.ev, work.grid, work.grid.cell_area
    target = ev.between(origin, origin + work.window)
    observed = grid.counts(target)
    outside = len(target) - int(observed.sum())
    rows = []
    for m in work.methods:
        t = time.perf_counter()
        row: dict[str, object] = {"origin": origin, "method": m,
                                  "n_events": int(observed.sum()),
                                  "n_outside": outside, "error": None}
        try:
            risk = run_method(m, ev, grid, origin, work.window, work.params.get(m))
            row.update(scores(risk, observed, area, work.coverages))
        except GeoveiligError as exc:
            row["error"] = str(exc)
            row.update(scores(np.zeros(grid.n_cells), np.zeros(grid.n_cells), area,
                              work.coverages))
        row["seconds"] = time.perf_counter() - t
        rows.append(row)
    return rows


#: the work of the running parallel backtest, inherited by its forked workers (not pickled)
_FORKED: list[_Work] = []
#: fewer origins than this are scored in one process: forking and warming the caches of the
#: shared work (the learned model's features, the combined forecast's components) again in
#: every worker costs about as much as a few origins
MIN_PARALLEL_ORIGINS = 8


def _score_forked(origin: pd.Timestamp) -> list[dict[str, object]]:
    return _score_origin(_FORKED[0], origin)


def _score_all(work: _Work, origins: list[pd.Timestamp], processes: int
               ) -> Iterator[list[dict[str, object]]]:
    """The rows of every origin, in order. With ``processes > 1`` (and enough origins, on a
    system that can fork) the origins are scored in forked worker processes, which inherit the
    data instead of receiving a copy; every method is a pure function of the data before its
    origin, so the result is the same as in one process (a test compares them)."""
    import multiprocessing

    n = min(int(processes), len(origins))
    if n <= 1 or len(origins) < MIN_PARALLEL_ORIGINS or _FORKED or \
            "fork" not in multiprocessing.get_all_start_methods():
        for origin in origins:
            yield _score_origin(work, origin)
        return
    from concurrent.futures import ProcessPoolExecutor

    _FORKED.append(work)
    try:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            # runs of consecutive origins per task: a worker's caches serve its next origin
            chunk = max(1, -(-len(origins) // (2 * n)))
            yield from pool.map(_score_forked, origins, chunksize=chunk)
    finally:
        _FORKED.clear()


def backtest(
    incidents: object,
    grid: Grid,
    methods: tuple[str, ...] | list[str] | None = None,
    *,
    window: object = "14d",
    origins: list[pd.Timestamp] | None = None,
    step: object = "14d",
    n_origins: int = 26,
    end: object | None = None,
    params: dict[str, dict[str, object]] | None = None,
    coverages: tuple[float, ...] = COVERAGES,
    criterion: SuccessCriterion | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    crime_type: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    processes: int = 1,
) -> BacktestResult:
    """Rolling-origin backtest (see the module docstring). ``end``: no window reaches past it
    (give the forecast origin, so that the choice of a method uses only the data before it;
    default: the day after the last incident). ``progress(done, total)`` is called after each
    origin (for a progress bar). ``processes``: score the origins in up to this many forked
    worker processes (:func:`_score_all`; the same result as one process)."""
    criterion = criterion or SuccessCriterion()
    methods = list(methods or DEFAULT_METHODS)
    for m in methods:
        if m not in METHODS:
            raise InvalidInput(f"onbekende methode {m!r}; kies uit {', '.join(METHODS)}",
                               where="methods")
    if criterion.baseline not in methods:
        methods.insert(0, criterion.baseline)
    if "naive" not in methods:
        methods.insert(0, "naive")
    win = parse_window(window)
    ev: Events = as_events(incidents, grid.crs)
    if origins is None:
        origins = rolling_origins(ev, win, step=step, n_origins=n_origins, end=end)
    origins = sorted(as_timestamp(o) for o in origins)
    if end is not None and origins and origins[-1] + win > as_timestamp(end, "end"):
        raise InvalidInput(f"backtest: het venster van startmoment {origins[-1]:%Y-%m-%d} loopt "
                           f"voorbij {as_timestamp(end, 'end'):%Y-%m-%d}", where="origins")
    work = _Work(ev, grid, tuple(methods), win, params or {}, tuple(coverages))
    rows: list[dict[str, object]] = []
    warnings: list[str] = []
    for done, origin_rows in enumerate(_score_all(work, origins, processes), start=1):
        rows.extend(origin_rows)
        if progress is not None:
            progress(done, len(origins))
    table = pd.DataFrame(rows)
    metric_cols = [c for c in table.columns if c.split("_")[0] in ("hit", "pai", "pei")]
    if criterion.metric not in metric_cols:
        raise InvalidInput(f"criterium gebruikt onbekende maat {criterion.metric!r}; kies uit "
                           f"{', '.join(metric_cols)}")
    empty = table.groupby("origin")["n_events"].first().eq(0).sum()
    if empty:
        warnings.append(f"{empty} startmoment(en) zonder incidenten in het venster; "
                        "niet meegeteld")
    rng = np.random.default_rng(seed)
    n_o = len(origins)
    block = min(overlap_block(origins, win), n_o)
    if block > 1:
        warnings.append(f"de vensters van opeenvolgende startmomenten overlappen (venster "
                        f"{format_window(win)}); het bootstrapinterval trekt daarom blokken "
                        f"van {block} opeenvolgende startmomenten")
    idx = bootstrap_indices(n_o, block, n_boot, rng)
    summary_rows = []
    for m in methods:
        sub = table[table["method"] == m].set_index("origin").reindex(origins)
        rec: dict[str, object] = {"method": m, "label": METHOD_LABELS.get(m, m),
                                  "n_origins": int(sub[criterion.metric].notna().sum()),
                                  "n_failed": int(sub["error"].notna().sum()),
                                  "seconds": float(sub["seconds"].sum())}
        for c in metric_cols:
            v = sub[c].to_numpy(float)
            rec[c] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            rec[c + "_low"], rec[c + "_high"] = _bootstrap(v, idx, criterion.level)
        summary_rows.append(rec)
    summary = pd.DataFrame(summary_rows)
    base = summary.set_index("method").loc[criterion.baseline, criterion.metric]
    met = (summary[criterion.metric] > base) & \
        (summary[criterion.metric + "_low"] > criterion.min_lower) & \
        (summary["n_origins"] >= criterion.min_origins) & \
        (summary["method"] != criterion.baseline)
    summary["meets_criterion"] = met.fillna(False).astype(bool)
    ok = summary[summary["meets_criterion"]]
    pool = ok if len(ok) else summary[summary[criterion.metric].notna()]
    if len(pool) == 0:
        raise InsufficientData("backtest: geen enkele methode kon gescoord worden "
                               "(te weinig incidenten in de vensters)")
    best = str(pool.sort_values(criterion.metric, ascending=False, kind="stable")
               ["method"].iloc[0])
    scored = int(summary["n_origins"].max())
    if scored < criterion.min_origins:
        warnings.append(f"slechts {scored} startmoment(en) met incidenten in het venster; "
                        f"minstens {criterion.min_origins} nodig voor een oordeel (kies meer "
                        "startmomenten, een langer venster of een bredere groep misdrijven)")
    failed = summary[summary["n_failed"] > 0]
    for fail in failed.itertuples():
        first = table[(table["method"] == fail.method) & table["error"].notna()]["error"].iloc[0]
        warnings.append(f"methode {fail.method}: {fail.n_failed} startmoment(en) niet berekend "
                        f"({first})")
    return BacktestResult(table, summary, criterion, best, bool(len(ok)), win, tuple(origins),
                          crime_type, n_boot, seed, tuple(warnings), block)


def backtest_by_crime_type(
    incidents: pd.DataFrame,
    grid: Grid,
    crime_types: list[str] | tuple[str, ...],
    **kwargs: object,
) -> tuple[pd.DataFrame, dict[str, BacktestResult | str]]:
    """Run :func:`backtest` per crime type (a slug or group, see
    :func:`geoveilig.crimetypes.expand`) on an incident frame with a ``crime_type`` column.

    Returns one summary table (column ``crime_type`` added, ``best`` marks each type's chosen
    method) and the results per type; a type that cannot be backtested maps to its Dutch
    message instead of a result."""
    from ..crimetypes import expand

    if "crime_type" not in incidents.columns:
        raise InvalidInput("incidenten missen de kolom crime_type")
    tables: list[pd.DataFrame] = []
    results: dict[str, BacktestResult | str] = {}
    for ct in crime_types:
        sub = incidents[incidents["crime_type"].isin(expand(ct))]
        try:
            res = backtest(sub, grid, crime_type=ct, **kwargs)  # type: ignore[arg-type]
        except GeoveiligError as exc:
            results[ct] = str(exc)
            continue
        results[ct] = res
        t = res.summary.copy()
        t.insert(0, "crime_type", ct)
        t["best"] = t["method"] == res.best_method
        tables.append(t)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return table, results
