"""Compact inline data for large maps: integer streams written as short printable strings.

Each integer is zigzag-mapped to a non-negative one (0, -1, 1, -2 ... become 0, 1, 2, 3 ...)
and written in 5-bit groups, low bits first, one character per group (code ``63 + group``,
plus 32 on every group but the last). This is the scheme of the "encoded polyline" format
that web maps commonly use; coordinates go in as differences from the previous point in units
of 1e-5 degree (about a metre), so a street vertex usually costs 2 to 4 characters where
GeoJSON spends about 20. The page decodes the strings with ``lcDecode`` (``popups.js``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely

__all__ = ["COORD_SCALE", "decode_ints", "delta_stream", "encode_ints", "line_vertices"]

COORD_SCALE = 1e5
"""Integer coordinate units per degree (1e-5 degree: about 1.1 m of latitude)."""


def encode_ints(values: npt.ArrayLike) -> str:
    """The integers ``values`` as one printable ASCII string (see the module docs).

    Examples
    --------
    >>> encode_ints([0, -1, 1, 16, -17, 1000])
    '?@A_@`@o}@'
    >>> decode_ints(encode_ints([5, -123456, 7]))
    [5, -123456, 7]
    """
    v = np.asarray(values, dtype=np.int64).ravel()
    if len(v) == 0:
        return ""
    z = np.where(v < 0, ~(v << 1), v << 1)
    groups = np.ones(len(z), dtype=np.int64)
    rest = z >> 5
    while rest.any():
        groups += rest > 0
        rest >>= 5
    owner = np.repeat(np.arange(len(z)), groups)
    pos = np.arange(int(groups.sum())) - np.repeat(np.cumsum(groups) - groups, groups)
    chunk = (z[owner] >> (5 * pos)) & 31
    more = pos < groups[owner] - 1
    return (chunk + 32 * more + 63).astype(np.uint8).tobytes().decode("ascii")


def decode_ints(text: str) -> list[int]:
    """The integers of a string from :func:`encode_ints` (the page's decoder, in Python)."""
    out: list[int] = []
    value, shift = 0, 0
    for ch in text:
        b = ord(ch) - 63
        value |= (b & 31) << shift
        shift += 5
        if b < 32:
            out.append(~(value >> 1) if value & 1 else value >> 1)
            value, shift = 0, 0
    return out


def line_vertices(geoms: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.int64], np.ndarray]:
    """The vertices of lines (WGS84) in integer units (lat, lon), repeated vertices dropped.

    Returns
    -------
    counts : numpy.ndarray
        The number of vertices each kept line has (lines left with fewer than 2 are dropped).
    latlon : numpy.ndarray
        ``(sum(counts), 2)`` integer latitudes and longitudes, line after line.
    """
    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    q = np.rint(xy[:, ::-1] * COORD_SCALE).astype(np.int64)
    keep = np.ones(len(q), dtype=bool)
    if len(q):
        keep[1:] = (idx[1:] != idx[:-1]) | np.any(q[1:] != q[:-1], axis=1)
    q, idx = q[keep], idx[keep]
    counts = np.bincount(idx, minlength=len(geoms)) if len(idx) else np.zeros(len(geoms), int)
    long_enough = counts >= 2
    return counts[long_enough].astype(np.int64), q[long_enough[idx]] if len(idx) else q


def delta_stream(latlon: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``latlon`` rows as differences from the previous row (the first from zero)."""
    return np.diff(latlon, axis=0, prepend=np.zeros((1, latlon.shape[1]), dtype=np.int64))
