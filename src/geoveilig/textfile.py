"""Reading delimited text files (CSV) with Arrow: file type, encoding and separator, and
the rows as Arrow text columns. Only Arrow and the standard library are imported here, so a
command can start reading a large file while it is still loading pandas and the rest of the
library (``geoveilig import`` does: see ``geoveilig.cli.import_cmd``); ``geoveilig.incidents``
and ``geoveilig.prevention.io`` turn the result into frames."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .errors import InvalidInput

#: first bytes of file types that are certainly no incident file, with their Dutch name
_MAGIC = (
    (b"%PDF", "een PDF-document"), (b"\x89PNG", "een PNG-afbeelding"),
    (b"\xff\xd8\xff", "een JPEG-afbeelding"), (b"GIF8", "een GIF-afbeelding"),
    (b"\xd0\xcf\x11\xe0", "een oud Office-bestand (.xls/.doc; sla op als .xlsx of CSV)"),
    (b"\x1f\x8b", "een gzip-archief"), (b"7z\xbc\xaf", "een 7-Zip-archief"),
    (b"Rar!", "een RAR-archief"), (b"\x7fELF", "een programma"), (b"MZ", "een programma"),
)
#: how much of a file ``sniff`` needs
SNIFF_BYTES = 8192


def sniff(head: bytes, filename: str | None = None) -> str:
    """The type of an incident file from its first bytes (``SNIFF_BYTES`` are enough):
    'csv', 'geojson', 'gpkg' or 'xlsx'. Anything else raises ``InvalidInput`` before the rest
    of the file is read."""
    name = filename or "bestand"
    ext = (filename or "").lower().rsplit(".", 1)[-1] if filename and "." in filename else ""
    if head[:16].startswith(b"SQLite format 3"):
        return "gpkg"
    if ext == "gpkg":
        raise InvalidInput(f"{name}: geen geldige GeoPackage (geen SQLite-bestand)")
    if head.startswith(b"PK\x03\x04"):
        if ext in ("xlsx", "xlsm") or b"[Content_Types].xml" in head or b"xl/" in head:
            return "xlsx"
        raise InvalidInput(f"{name}: dit is een zip-archief, geen incidentbestand (CSV, "
                           "Excel .xlsx, GeoJSON of GeoPackage)")
    if ext in ("xlsx", "xlsm"):
        raise InvalidInput(f"{name}: geen geldig Excel-bestand (.xlsx)")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InvalidInput(f"{name}: dit is {what}: geen tekstbestand (CSV of GeoJSON), "
                               "geen Excel-bestand (.xlsx) en geen GeoPackage")
    encoding = _utf16(head)
    if encoding is not None:
        text = head[2:len(head) - len(head) % 2].decode(encoding, errors="ignore")
        stripped_text = text.lstrip(" \t\r\n")
        return "geojson" if ext in ("geojson", "json") or stripped_text.startswith("{") \
            else "csv"
    if b"\x00" in head[:4096]:
        raise InvalidInput(
            f"{name}: dit is geen tekstbestand (CSV of GeoJSON), geen Excel-bestand en geen "
            "GeoPackage"
        )
    stripped = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if ext in ("geojson", "json") or stripped.startswith(b"{"):
        return "geojson"
    return "csv"


def _utf16(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when ``data`` starts with a UTF-16 byte-order mark (as Excel's
    "Unicode text" export writes), else None."""
    if data.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if data.startswith(b"\xfe\xff"):
        return "utf-16-be"
    return None


def _decode(data: bytes, filename: str | None) -> str:
    return _decode_with(data, filename)[0]


def _decode_with(data: bytes, filename: str | None) -> tuple[str, str]:
    """The text and the encoding that read it (UTF-16 with a byte-order mark, UTF-8 with or
    without BOM, else cp1252: the encodings Windows tools write)."""
    wide = _utf16(data)
    if wide is not None:
        try:
            text = data[2:].decode(wide)
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{filename or 'bestand'}: UTF-16-tekst niet te lezen") from exc
        _check_text(text[:4096], filename)
        return text, wide
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost everything
        raise InvalidInput(f"{filename or 'bestand'}: tekencodering niet te lezen")
    _check_text(text[:4096], filename)
    return text, enc


def _check_text(head: str, filename: str | None) -> None:
    bad = sum(1 for ch in head if ord(ch) < 32 and ch not in "\r\n\t")
    if bad > 8:
        raise InvalidInput(f"{filename or 'bestand'}: dit is geen tekstbestand (CSV of GeoJSON)")


_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
_BLANK_LINE_TEXT = re.compile(r"\n[ \t\r]*\n(?=.)", flags=re.S)


def _has_blank_line(data: bytes, start: int = 0) -> bool:
    """Whether UTF-8 ``data[start:]``, stripped of leading and trailing line breaks, holds a
    blank line (only spaces, tabs, carriage returns) between two lines: the question
    ``_BLANK_LINE_TEXT.search(text.strip("\r\n"))`` asks of the decoded text, without
    decoding or copying the file (these characters are single bytes in UTF-8)."""
    head = data[start:start + 65536]
    kept = head.lstrip(b"\r\n")
    if kept:
        start += len(head) - len(kept)
    else:
        start = len(data) - len(data[start:].lstrip(b"\r\n"))
    tail = data[-65536:]
    kept = tail.rstrip(b"\r\n")
    end = len(data) - (len(tail) - len(kept)) if kept else len(data.rstrip(b"\r\n"))
    # The stripped text ends in a character that is no line break, so a match always has a
    # character after it: the look-ahead of the text pattern holds.
    return start < end and _BLANK_LINE.search(data, start, end) is not None


def _check_header(header: list[str], filename: str | None) -> None:
    """Refuse a header that names a column twice (also when only the case differs): which of
    the two would be read is a guess."""
    seen: dict[str, str] = {}
    twice: list[str] = []
    for name in header:
        key = str(name).strip().lower()
        if key in seen and seen[key] not in twice:
            twice.append(seen[key])
        seen.setdefault(key, str(name).strip())
    if twice:
        raise InvalidInput(f"{filename or 'bestand'}: kolomnaam komt meer dan één keer voor in "
                           f"de kopregel: {', '.join(twice)}; geef elke kolom een eigen naam")


@dataclass
class CsvText:
    """A CSV file as read by ``read_csv_text``: its separator and layout (``source``:
    encoding, separator, newline), and either its rows as Arrow text columns (``table``), or,
    for a file that the fast path does not read (a blank line between rows, a column name
    used twice), its decoded ``text`` for the exact reading with pandas."""

    sep: str
    source: dict[str, str]
    table: pa.Table | None = None
    text: str | None = field(default=None, repr=False)
    #: ``prepare_columns``: per column of ``table``, whether a value starts with a quote
    #: (``geoveilig.safecsv``'s neutralisation, which the parse undoes) and its values
    #: trimmed of whitespace, as the parse reads them (empty: not prepared)
    quoted: tuple[bool, ...] = field(default=(), repr=False)
    trimmed: tuple[pa.ChunkedArray, ...] = field(default=(), repr=False)


#: up to this many rows ``prepare_columns`` trims the columns ahead (larger files are trimmed
#: field by field as they are parsed: every column trimmed at once would hold a second copy
#: of the file's text, near the 3 GB an import of 5·10⁶ rows must stay under)
TRIM_AHEAD_ROWS = 2_000_000


def prepare_columns(text: CsvText) -> CsvText:
    """``text`` with the columnwise work the parse does first done ahead (``quoted`` and, up
    to ``TRIM_AHEAD_ROWS`` rows, ``trimmed``): in Arrow, without the GIL, on the thread that
    read the file while the library is still loading (``geoveilig import``)."""
    if text.table is None:
        return text
    columns = text.table.columns
    quoted = tuple(bool(pc.any(pc.starts_with(col, "'")).as_py()) for col in columns)
    trimmed = tuple(pc.utf8_trim_whitespace(col) for col in columns) \
        if text.table.num_rows <= TRIM_AHEAD_ROWS else ()
    return replace(text, quoted=quoted, trimmed=trimmed)


def read_csv_text(data: bytes, filename: str | None) -> CsvText:
    """Detect encoding, separator and header of CSV ``data`` and read its rows with Arrow when
    it can (multi-threaded, every column as text). Refuses what is not a readable CSV file
    with ``InvalidInput``."""
    if data.isascii():
        # ASCII is UTF-8 without BOM: only the head is decoded here, Arrow reads the bytes.
        text: str | None = None
        encoding, bom = "ascii", 0
        head = data[:65536].decode("ascii")
        _check_text(head[:4096], filename)
    else:
        text, encoding = _decode_with(data, filename)
        bom = 3 if encoding == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf") else 0
        head = text[:65536]
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    if not first:
        raise InvalidInput(f"{filename or 'bestand'}: het bestand is leeg")
    sep = max((";", ",", "\t", "|"), key=first.count)
    if first.count(sep) == 0:
        raise InvalidInput(
            f"{filename or 'bestand'}: geen scheidingsteken (; of ,) gevonden in de kopregel "
            f"'{first[:80]}'"
        )
    header = next(csv.reader([first], delimiter=sep))
    _check_header(header, filename)
    source = {"encoding": "utf-8-sig" if bom else ("cp1252" if encoding == "cp1252" else
                                                    encoding if encoding.startswith("utf-16")
                                                    else "utf-8"),
              "sep": sep, "newline": "\r\n" if "\r\n" in head else "\n"}
    utf8 = encoding in ("ascii", "utf-8-sig")  # the bytes after the BOM are the UTF-8 text
    if utf8:
        blank_lines = _has_blank_line(data, bom)
    else:
        assert text is not None
        blank_lines = _BLANK_LINE_TEXT.search(text.strip("\r\n")) is not None
    if blank_lines or len(set(header)) != len(header):
        return CsvText(sep, source, text=data.decode("ascii") if text is None else text)
    buffer = pa.py_buffer(data).slice(bom) if utf8 else \
        pa.py_buffer(text.encode("utf-8"))  # type: ignore[union-attr]
    return CsvText(sep, source, table=_read_arrow(buffer, sep, header, filename))


def _read_arrow(utf8: pa.Buffer, sep: str, header: list[str], filename: str | None) -> pa.Table:
    """Multi-threaded CSV reading with Arrow, every column as text (the fast path), from the
    file's text as UTF-8 without BOM."""
    try:
        return pa_csv.read_csv(
            pa.BufferReader(utf8),
            read_options=pa_csv.ReadOptions(block_size=1 << 22),
            parse_options=pa_csv.ParseOptions(delimiter=sep, newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        msg = str(exc).split("\n")[0]
        raise InvalidInput(f"{filename or 'bestand'}: CSV niet te lezen: {msg}") from exc
