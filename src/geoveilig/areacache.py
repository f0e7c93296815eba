"""The validated boundaries kept between runs: ``load_areas`` once per change of its files.

Every command (``geoveilig import``, a report, the API at start) needs the boundaries. Reading
them with GDAL and validating them (codes, geometry, nesting, the layers against each other)
costs each run 40-60 ms for Helmond's generalised files and 1.4 s for a national map (the
synthetic one of ``benchmarks/bench_national.py``: 342 gemeenten, 14,000 buurten); read from
the cache 6 ms and 20 ms.

``load_cached`` keeps what ``load_areas`` returned in one Arrow IPC file in a cache folder (the
edges pass ``<GEOVEILIG_DATA_DIR>/cache``), keyed by everything the result depends on: the
source's path, the name, size and modification time of every file ``load_areas`` would read,
the gemeenten asked for, the code that reads and validates them (its source text) and the
libraries it reads them with. Any change gives another key, so a cached result is never stale;
a file that cannot be read as a cache is not used (the boundaries are read again and the file
is rewritten). Boundaries are public data: nothing personal is kept. Errors are never cached
(an invalid source raises each time, with its message).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import shapely

from . import RD_NEW
from . import areas as areas_mod
from .areas import LEVELS, Areas, boundary_files, load_areas, parse_gemeenten

__all__ = ["KEEP", "cache_key", "load_cached"]

#: the newest cache files kept in the folder (one per source and choice of gemeenten)
KEEP = 8
_PREFIX = "areas-"
_SUFFIX = ".arrow"


def _source_files(path: Path) -> list[Path]:
    """The files ``load_areas`` reads for ``path`` (a folder's boundary files, or the file)."""
    return boundary_files(path) if path.is_dir() else [path]


def cache_key(source: str | Path, gemeente: str | Iterable[str] | None) -> str:
    """The key of ``load_areas(source, gemeente)``: changes with the source's files (name,
    size, modification time), the gemeenten asked for, the loading code and libraries
    (``_code``)."""
    path = Path(source).resolve()
    files = []
    for p in _source_files(path):
        st = p.stat()
        files.append([p.name, st.st_size, st.st_mtime_ns])
    codes = parse_gemeenten(gemeente)
    text = json.dumps({"source": str(path), "files": files,
                       "gemeente": None if codes is None else sorted(codes),
                       "code": _code()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


@functools.cache
def _code() -> str:
    """The loading code and the libraries it reads with, as one digest (once per process):
    the source text of ``areas`` and this module, the versions of the libraries loaded
    anyway, and for GDAL's reader (not loaded on a cached run) when its module last
    changed."""
    digest = hashlib.sha256()
    for module in (areas_mod.__file__, __file__):
        digest.update(Path(str(module)).read_bytes())
    spec = importlib.util.find_spec("pyogrio")
    reader = str(Path(spec.origin).stat().st_mtime_ns) if spec and spec.origin else "-"
    for version in (pd.__version__, gpd.__version__, shapely.__version__, pa.__version__,
                    reader):
        digest.update(version.encode() + b"\0")
    return digest.hexdigest()


def load_cached(source: str | Path, gemeente: str | Iterable[str] | None,
                cache_dir: str | Path) -> Areas:
    """``load_areas(source, gemeente)``, from ``cache_dir`` when it holds the result for the
    same files, gemeenten and code; otherwise loaded and kept there (a folder that cannot be
    written to keeps nothing, the result is the same)."""
    path = Path(source)
    if not path.exists():
        return load_areas(path, gemeente=gemeente)  # raises with its message
    folder = Path(cache_dir)
    key = cache_key(path, gemeente)
    target = folder / f"{_PREFIX}{key}{_SUFFIX}"
    kept = _read(target)
    if kept is not None:
        return kept
    found = load_areas(path, gemeente=gemeente)
    with contextlib.suppress(OSError):
        _write(found, target)
        _prune(folder, target)
    return found


def _layer_bytes(frame: gpd.GeoDataFrame) -> bytes:
    """One layer (in EPSG:28992) as an Arrow IPC stream, its geometry as WKB."""
    plain = frame.drop(columns=frame.geometry.name)
    table = pa.Table.from_pandas(plain, preserve_index=False)
    table = table.append_column("__geometry", pa.array(shapely.to_wkb(frame.geometry.values),
                                                       pa.binary()))
    table = table.replace_schema_metadata({
        **(table.schema.metadata or {}),
        b"geoveilig_columns": json.dumps([str(c) for c in frame.columns]).encode(),
        b"geoveilig_geometry": str(frame.geometry.name).encode()})
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _layer(data: bytes) -> gpd.GeoDataFrame:
    """``_layer_bytes`` read back: the same columns in the same order."""
    table = ipc.open_stream(data).read_all()
    meta = table.schema.metadata
    columns = json.loads(meta[b"geoveilig_columns"])
    name = meta[b"geoveilig_geometry"].decode()
    geometry = shapely.from_wkb(table.column("__geometry").to_numpy(zero_copy_only=False))
    plain = table.drop_columns(["__geometry"]).to_pandas()
    plain[name] = geometry
    return gpd.GeoDataFrame(plain[columns], geometry=name, crs=RD_NEW)


def _write(found: Areas, target: Path) -> None:
    meta = {"year": found.year, "source": found.source, "warnings": list(found.warnings)}
    table = pa.table({"level": list(LEVELS),
                      "layer": pa.array([_layer_bytes(found.layer(lvl)) for lvl in LEVELS],
                                        pa.binary())},
                     metadata={"geoveilig_areas": json.dumps(meta)})
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".areas-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh, ipc.new_file(fh, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, target)  # whole or not at all, also with two writers at once
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(target: Path) -> Areas | None:
    """The kept ``Areas`` in ``target``; None when there is none or it cannot be read."""
    try:
        with ipc.open_file(pa.memory_map(str(target))) as reader:
            table = reader.read_all()
        meta = json.loads(table.schema.metadata[b"geoveilig_areas"])
        layers = dict(zip(table.column("level").to_pylist(),
                          table.column("layer").to_pylist(), strict=True))
        frames = {lvl: _layer(layers[lvl]) for lvl in LEVELS}
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowException,
            shapely.errors.GEOSException):
        return None
    return Areas(gemeente=frames["gemeente"], wijken=frames["wijk"], buurten=frames["buurt"],
                 year=meta["year"], source=meta["source"], warnings=tuple(meta["warnings"]))


def _prune(folder: Path, keep: Path) -> None:
    """Only the ``KEEP`` newest cache files stay (the one just written among them)."""
    files = sorted(folder.glob(f"{_PREFIX}*{_SUFFIX}"), key=lambda p: p.stat().st_mtime_ns,
                   reverse=True)
    for old in files[KEEP:]:
        if old != keep:
            with contextlib.suppress(OSError):
                old.unlink()
