"""Reading the tables and layers planners bring: CSV/TSV, Excel, GeoJSON, GeoPackage, Shapefile.

CSV files may be UTF-8, UTF-8 with a byte-order mark, or GBK/GB18030 (Excel on Chinese
Windows): the encoding is detected (UTF-8 first, then GB18030, a superset of GBK) or
given. Columns are found by their usual English and Chinese names (``lon``/``lng``/
``longitude``/``x``/``经度``, ``lat``/``纬度``, a combined ``location`` column of
``"lon,lat"``, ``category``/``类别``, ``name``/``名称``...) or named by the user. Every
problem is gathered with its file, row and fix; inputs are only read, never written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from python_calamine import CalamineWorkbook

from lifecircle.errors import InputError, Problem
from lifecircle.geo.crs import parse_crs, to_wgs84

__all__ = [
    "ALIASES",
    "PointTable",
    "decode_text",
    "find_column",
    "parse_numbers",
    "points_from_table",
    "read_points",
    "read_table",
    "row_place",
]

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
GEO_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")

ALIASES: dict[str, tuple[str, ...]] = {
    role: tuple(words.split())
    for role, words in {
        "lon": "lon lng long longitude x 经度 东经 lon_wgs84 wgs84_lon gcj02_lon bd09_lon",
        "lat": "lat latitude y 纬度 北纬 lat_wgs84 wgs84_lat gcj02_lat bd09_lat",
        "location": "location lnglat lonlat 坐标 经纬度 经纬度坐标 位置坐标 coordinates",
        "category": "category type class kind 类别 类型 分类 设施类型 设施类别 大类 设施分类",
        "name": "name 名称 名字 设施名称 poi名称 title 社区名称 社区 村居 居委会",
        "id": "id unit_id facility_id 编号 编码 代码 code poi_id uid 社区编码 社区代码",
        "capacity": "capacity places beds 学位 学位数 床位 床位数 容量 规模",
        "population": "population pop residents 人口 常住人口 户籍人口 居民数 人数 人口数",
        "floors": "floors levels storeys stories building:levels 层数 楼层 楼层数 地上层数 总层数",
        "use": "use usage function 用途 建筑用途 使用性质 性质 功能 类型",
        "households": "households hh 户数 住户数 户数量 总户数",
    }.items()
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-()（）:：]+", "", str(name).replace("\ufeff", "")).casefold()


def find_column(
    columns: Iterable[Any], role: str, given: str | None = None, *, source: str = "input"
) -> str | None:
    """The column playing ``role``: the one the user named, else the first alias found.

    Parameters
    ----------
    columns
        The table's columns.
    role
        ``"lon"``, ``"lat"``, ``"location"``, ``"category"``, ``"name"``, ``"id"``,
        ``"capacity"``, ``"population"``, ``"floors"``, ``"use"`` or ``"households"`` (the
        keys of :data:`ALIASES`).
    given
        The column the user named, if any.
    source
        The file, for the message.

    Returns
    -------
    str or None
        The column's name as the table spells it; ``None`` when none plays the role.

    Raises
    ------
    InputError
        When the user named a column that is not there (the message lists the columns).

    Examples
    --------
    >>> find_column(["名称", "经度", "纬度"], "lon")
    '经度'
    >>> find_column(["Name", "LNG", "Lat"], "lon")
    'LNG'
    """
    cols = [str(c) for c in columns]
    if given:
        for c in cols:
            if c == given or _norm(c) == _norm(given):
                return c
        raise InputError(
            Problem(source, f"no column named {given!r}", fix=f"the columns are: {', '.join(cols)}")
        )
    by_norm = {_norm(c): c for c in cols}
    for alias in ALIASES[role]:
        if _norm(alias) in by_norm:
            return by_norm[_norm(alias)]
    return None


def parse_numbers(values: pd.Series) -> pd.Series:
    """Numbers from text as people write them: ``1,234``, ``1.2万``, `` 56 `` (NaN if not).

    Examples
    --------
    >>> parse_numbers(pd.Series(["1,234", "1.5万", "abc", None, "  7 "])).tolist()
    [1234.0, 15000.0, nan, nan, 7.0]
    """
    text = (
        values.astype("string")
        .str.strip()
        .str.replace(",", "", regex=False)
        .str.replace("，", "", regex=False)
    )
    wan = text.str.endswith("万", na=False)
    text = text.str.removesuffix("万")
    nums = pd.to_numeric(text, errors="coerce").astype(float)
    return nums.where(~wan, nums * 10000.0)


def _row_place(index: Iterable[int], limit: int = 5) -> tuple[str, Any]:
    """A :data:`~lifecircle.errors.Place` naming spreadsheet rows (header = row 1).

    Examples
    --------
    >>> _row_place([1])
    ('row', 3)
    >>> _row_place(range(7))
    ('rows', '2, 3, 4, 5, 6 (+2)')
    """
    rows = [int(i) + 2 for i in index]
    if len(rows) == 1:
        return ("row", rows[0])
    shown = ", ".join(map(str, rows[:limit]))
    more = f" (+{len(rows) - limit})" if len(rows) > limit else ""
    return ("rows", shown + more)


def _decode(raw: bytes, encoding: str | None, source: str) -> tuple[str, str]:
    """The text of a file and its encoding: the one given, else UTF-8 or GB18030."""
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            detail = f"at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else str(exc)
            raise InputError(
                Problem.of("wrong_encoding", source, encoding=encoding, detail=detail)
            ) from None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc), ("utf-8" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError:
            continue
    raise InputError(Problem.of("unknown_encoding", source))


def _readable(path: str | Path) -> tuple[Path, bytes]:
    """The file's path and its first bytes, or the problem with it: not there, a folder,
    not readable."""
    p = Path(path).expanduser()
    source = str(path)
    if p.is_dir():
        raise InputError(Problem.of("is_a_folder", source))
    if not p.is_file():
        raise InputError(Problem.of("file_not_found", source, path=source))
    try:
        with p.open("rb") as f:
            head = f.read(8)
    except PermissionError:
        raise InputError(Problem.of("not_readable", source)) from None
    return p, head


ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and .doc): an OLE2 compound file


def _read_text(p: Path, encoding: str | None, source: str, info: dict[str, Any]) -> pd.DataFrame:
    """A CSV/TSV file, every value as text; a line with too many fields is named."""
    raw = p.read_bytes()
    if not raw.strip():
        raise InputError(Problem.of("empty_file", source))
    text, enc = _decode(raw, encoding, source)
    info["encoding"] = enc
    if p.suffix.lower() == ".tsv":
        delim = "\t"
    else:
        try:
            delim = csv.Sniffer().sniff(text[:8192], delimiters=",\t;|").delimiter
        except csv.Error:
            delim = ","
    info["delimiter"] = delim
    try:
        return pd.read_csv(
            io.StringIO(text), sep=delim, dtype=str, keep_default_na=False, na_values=[""]
        )
    except pd.errors.EmptyDataError:
        raise InputError(Problem.of("empty_file", source)) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise InputError(Problem.of("bad_csv", source, detail=str(exc).strip())) from None
        want, line, saw = found.groups()
        raise InputError(
            Problem.of("csv_extra_fields", source, place=("line", int(line)), want=want, saw=saw)
        ) from None


def _sheets(p: Path, source: str) -> dict[str, bool]:
    """The workbook's sheets, and whether each holds any data."""
    try:
        book = CalamineWorkbook.from_path(str(p))
    except Exception as exc:  # calamine raises its own errors for broken workbooks
        raise InputError(Problem.of("bad_workbook", source, detail=str(exc))) from None
    return {name: book.get_sheet_by_name(name).height > 0 for name in book.sheet_names}


def _read_excel(
    p: Path, head: bytes, sheet: str | int | list[str] | None, source: str
) -> pd.DataFrame:
    """An Excel sheet (or several, stacked), every value as text.

    A workbook with more than one sheet holding data needs ``sheet``: reading only the
    first, silently, would leave the others' rows out.
    """
    legacy = head.startswith(OLE_MAGIC)
    if not (legacy or head.startswith(ZIP_MAGIC)):
        raise InputError(Problem.of("not_a_workbook", source))
    sheets = _sheets(p, source)
    listed = ", ".join(sheets)
    if sheet is None:
        filled = [name for name, has_data in sheets.items() if has_data]
        if len(filled) > 1:
            raise InputError(Problem.of("several_sheets", source, sheets=", ".join(filled)))
        wanted: list[str | int] = [filled[0] if filled else 0]
    else:
        wanted = list(sheet) if isinstance(sheet, list) else [sheet]
    for name in wanted:
        known = name in sheets if isinstance(name, str) else 0 <= name < len(sheets)
        if not known:
            raise InputError(
                Problem.of("no_such_sheet", source, place=("sheet", name), sheets=listed)
            )
    engine: Literal["calamine", "openpyxl"] = "calamine" if legacy else "openpyxl"
    frames = [pd.read_excel(p, sheet_name=name, dtype=str, engine=engine) for name in wanted]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _dbf_text(raw: bytes) -> bytes:
    """The text of a Shapefile's .dbf table: its field names and its records, without the
    binary header (whose counts and lengths are not text in any encoding)."""
    header_len = int.from_bytes(raw[8:10], "little")
    names = b" ".join(raw[i : i + 11].split(b"\0")[0] for i in range(32, header_len - 1, 32))
    return names + b"\n" + raw[header_len:]


def _read_layer(p: Path, encoding: str | None, source: str, info: dict[str, Any]) -> pd.DataFrame:
    """A vector layer; a Shapefile without a .cpg has its text encoding detected."""
    if encoding is None and p.suffix.lower() == ".shp" and not p.with_suffix(".cpg").exists():
        dbf = p.with_suffix(".dbf")
        if dbf.exists():
            _, encoding = _decode(_dbf_text(dbf.read_bytes()), None, str(dbf))
            info["encoding"] = encoding
    kwargs = {"encoding": encoding} if encoding else {}
    try:
        frame = gpd.read_file(p, **kwargs)
    except Exception as exc:  # pyogrio raises its own DataSourceError
        raise InputError(Problem.of("bad_layer", source, detail=str(exc))) from None
    info["crs"] = frame.crs.to_string() if frame.crs is not None else None
    return frame


def read_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    sheet: str | int | list[str] | None = None,
    allow_empty: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a CSV/TSV/Excel table (all values as text) or a vector layer.

    Parameters
    ----------
    path
        The file.
    encoding
        The text encoding of a CSV (detected when omitted).
    sheet
        The Excel sheet, by name or number, or a list of names to stack; needed when
        more than one sheet holds data.
    allow_empty
        Take a table with a header and no rows (else: an error).

    Returns
    -------
    (frame, info)
        A DataFrame (a GeoDataFrame for vector layers) and what was detected
        (``encoding``, ``delimiter``, ``format``).
    """
    p, head = _readable(path)
    source = str(path)
    suffix = p.suffix.lower()
    info: dict[str, Any] = {"format": suffix.lstrip(".")}
    if suffix in TEXT_SUFFIXES:
        frame = _read_text(p, encoding, source, info)
    elif suffix in EXCEL_SUFFIXES:
        frame = _read_excel(p, head, sheet, source)
    elif suffix in GEO_SUFFIXES:
        frame = _read_layer(p, encoding, source, info)
    else:
        raise InputError(Problem.of("unknown_file_type", source, suffix=suffix))
    frame.columns = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    if len(frame) == 0 and not allow_empty:
        raise InputError(Problem.of("no_rows", source))
    return frame, info


@dataclass
class PointTable:
    """Points read from a user's file, in WGS84, with what was detected and any problems."""

    frame: gpd.GeoDataFrame
    source: str
    info: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def read_points(
    path: str | Path,
    *,
    crs: str | int | CRS | None = None,
    encoding: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    sheet: str | int | list[str] | None = None,
    allow_empty: bool = False,
) -> PointTable:
    """Points from a table with coordinate columns, or from a vector layer.

    Tables: coordinates in the declared ``crs`` (default WGS84; ``gcj02``, ``bd09`` or an
    EPSG code). Vector layers: their own CRS, unless ``gcj02``/``bd09`` is declared (Chinese
    data saved as GeoJSON still carries the shifted coordinates). Polygons (parcels) keep
    their polygon; callers take a point inside where they need one.

    Problems (missing columns, text where numbers belong, coordinates out of range or
    apparently swapped, no CRS) are collected in ``PointTable.problems``, not raised,
    so that the caller can report every input's problems at once.

    Parameters
    ----------
    path
        The file.
    crs
        The coordinates' system (see above).
    encoding
        The text encoding of a CSV (detected when omitted).
    lon_col, lat_col
        The coordinate columns (found by their usual names when omitted).
    sheet, allow_empty
        The Excel sheet or sheets, and whether a table without rows is taken (see
        :func:`read_table`).

    Returns
    -------
    PointTable
        The points (WGS84), what was detected and the problems.
    """
    frame, info = read_table(path, encoding=encoding, sheet=sheet, allow_empty=allow_empty)
    return points_from_table(frame, info, str(path), crs=crs, lon_col=lon_col, lat_col=lat_col)


def points_from_table(
    frame: pd.DataFrame,
    info: dict[str, Any],
    source: str,
    *,
    crs: str | int | CRS | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
) -> PointTable:
    """:func:`read_points` on a table already read (by :func:`read_table`).

    Parameters
    ----------
    frame, info
        The table and what was detected reading it.
    source
        The file, for the messages.
    crs, lon_col, lat_col
        As :func:`read_points` takes them.

    Returns
    -------
    PointTable
        The points (WGS84), what was detected and the problems.
    """
    system = parse_crs(crs, source=source) if crs is not None else None
    problems: list[Problem] = []
    if isinstance(frame, gpd.GeoDataFrame) and "geometry" in frame.columns:
        gdf = _points_from_layer(frame, system, source, problems)
    else:
        gdf = _points_from_columns(
            frame, system or "wgs84", source, lon_col, lat_col, problems, info
        )
    info["crs_declared"] = str(system) if system is not None else None
    return PointTable(gdf, source, info, problems)


def _points_from_layer(
    frame: gpd.GeoDataFrame, system: str | CRS | None, source: str, problems: list[Problem]
) -> gpd.GeoDataFrame:
    geoms = frame.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        problems.append(
            Problem.of("empty_geometry", source, place=_row_place(np.flatnonzero(empty)))
        )
    if system in ("gcj02", "bd09"):
        lonlat = shapely.get_coordinates(geoms[~empty])
        lon, lat = to_wgs84(lonlat[:, 0], lonlat[:, 1], system)
        fixed = geoms.copy()
        fixed[~empty] = shapely.set_coordinates(geoms[~empty].copy(), np.column_stack([lon, lat]))
        return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=fixed, crs="EPSG:4326")
    layer_crs = CRS.from_user_input(system) if isinstance(system, CRS) else frame.crs
    if layer_crs is None and system in (None, "wgs84"):
        if system is None and frame.crs is None:
            problems.append(Problem.of("layer_without_crs", source))
            layer_crs = CRS.from_epsg(4326)
        else:
            layer_crs = CRS.from_epsg(4326)
    gdf = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=layer_crs)
    return gdf.to_crs("EPSG:4326")


def _coordinates(
    frame: pd.DataFrame,
    source: str,
    lon_col: str | None,
    lat_col: str | None,
    info: dict[str, Any],
) -> tuple[pd.Series, pd.Series, str] | Problem:
    """The x and y numbers of every row and the columns they came from, or the problem
    that there are none."""
    cols = list(frame.columns)
    lon_name = find_column(cols, "lon", lon_col, source=source)
    lat_name = find_column(cols, "lat", lat_col, source=source)
    if lon_name and lat_name:
        info["columns"] = {"lon": lon_name, "lat": lat_name}
        x, y = parse_numbers(frame[lon_name]), parse_numbers(frame[lat_name])
        return x, y, f"{lon_name}/{lat_name}"
    loc = find_column(cols, "location", None, source=source)
    if loc is None:
        return Problem.of("no_coordinates", source, columns=", ".join(map(str, cols)))
    parts = frame[loc].astype("string").str.split(r"[,，\s]+", n=1, expand=True, regex=True)
    parts = parts.reindex(columns=[0, 1])
    info["columns"] = {"location": loc}
    return parse_numbers(parts[0]), parse_numbers(parts[1]), str(loc)


def _range_problems(
    xv: np.ndarray, yv: np.ndarray, ok: np.ndarray, system: str | CRS, source: str
) -> list[Problem]:
    """Coordinates that cannot be degrees in ``system``: projected metres, swapped
    longitude and latitude, or simply out of range."""
    geographic = isinstance(system, str) or (isinstance(system, CRS) and system.is_geographic)
    if not (geographic and ok.any()):
        return []
    problems = []
    out = ok & ((np.abs(xv) > 180) | (np.abs(yv) > 90))
    swapped = out & (np.abs(yv) <= 180) & (np.abs(xv) <= 90)
    projected = out & ((np.abs(xv) > 1000) | (np.abs(yv) > 1000))
    for key, rows in (
        ("coordinates_projected", projected),
        ("coordinates_swapped", out & ~projected & swapped),
        ("coordinates_out_of_range", out & ~projected & ~swapped),
    ):
        if rows.any():
            problems.append(Problem.of(key, source, place=_row_place(np.flatnonzero(rows))))
    if system in ("gcj02", "bd09"):
        # latitude-like values in the longitude column and vice versa: swapped columns
        china_swapped = ok & (xv >= 0) & (xv < 60) & (yv > 70) & (yv < 140)
        if china_swapped.sum() > 0.5 * ok.sum():
            problems.append(
                Problem.of(
                    "coordinates_swapped_china",
                    source,
                    place=_row_place(np.flatnonzero(china_swapped)),
                )
            )
    return problems


def _points_from_columns(
    frame: pd.DataFrame,
    system: str | CRS,
    source: str,
    lon_col: str | None,
    lat_col: str | None,
    problems: list[Problem],
    info: dict[str, Any],
) -> gpd.GeoDataFrame:
    """Points from coordinate columns (or one "lon,lat" column) in ``system``, as WGS84;
    rows without usable coordinates get no geometry and a problem."""
    found = _coordinates(frame, source, lon_col, lat_col, info)
    if isinstance(found, Problem):
        problems.append(found)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame)), crs="EPSG:4326")
    x, y, columns = found
    bad = x.isna() | y.isna()
    if bad.any():
        problems.append(
            Problem.of(
                "coordinates_missing",
                source,
                place=_row_place(np.flatnonzero(bad)),
                columns=columns,
            )
        )
    xv, yv = x.to_numpy(float), y.to_numpy(float)
    ok = ~bad.to_numpy()
    problems += _range_problems(xv, yv, ok, system, source)
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    if ok.any():
        lon[ok], lat[ok] = to_wgs84(xv[ok], yv[ok], system)
    geom = np.where(ok, shapely.points(np.column_stack([lon, lat])), None)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"), crs="EPSG:4326")


row_place = _row_place
"""Public name of :func:`_row_place`, for the other readers of users' files."""


def decode_text(raw: bytes, encoding: str | None, source: str) -> tuple[str, str]:
    """The text of a user's file and its encoding: ``encoding``, else UTF-8 or GB18030
    (as every table is read).

    Parameters
    ----------
    raw
        The file's bytes.
    encoding
        The encoding the user gave, or None to detect it.
    source
        The file's name, for the messages.

    Returns
    -------
    (text, encoding)
        The decoded text and the encoding used.
    """
    return _decode(raw, encoding, source)
