"""The immutable InstitutionTable: precomputed arrays, an id index and the pairwise matrix."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from engine import _kernels as K
from engine.distance import (
    METERS_PER_MILE,
    _Entry,
    check_miles,
    check_point,
    exact_pair_within,
    geodesic_miles,
    reference_geodesic_m,
)

# Above this many rows the all-pairs matrix (n^2 bytes) is not precomputed; beyond()
# then decides the one pair exactly on each call (25 MB at the limit).
MATRIX_MAX_ROWS = 5000
# The default radius of the public methods (a stable interface: `within(lat, lon)` means
# 90 miles, the ASTC rule); the domain always passes its program profile's radius.
DEFAULT_RADIUS_MILES = 90.0
_INF = math.inf


class TableError(ValueError):
    """The records cannot form an institution table."""


class InstitutionTable:
    """Participating institutions' coordinates, ready for exact WGS84 distance queries.

    Build once per list version with :meth:`from_records`; every query is exact (see
    ``engine.distance`` for the band that makes the fast filter safe). Rows keep the
    records' order ("table order"); internally they are also grouped into latitude bands
    sorted by longitude, so a query reads only the rows near it.
    """

    __slots__ = ("_ids", "_index", "_id_rank", "_lat", "_lon", "_radius_miles", "_pts", "_perm",
                 "_offsets", "_matrix")

    def __init__(self, ids: tuple[str, ...], lat_deg: np.ndarray, lon_deg: np.ndarray,
                 radius_miles: float) -> None:
        """Use :meth:`from_records` or :meth:`from_arrays`; this trusts checked input."""
        set_ = object.__setattr__
        set_(self, "_ids", ids)
        set_(self, "_index", {name: i for i, name in enumerate(ids)})
        rank = np.empty(len(ids), np.int64)
        rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
        set_(self, "_id_rank", rank)
        lat = np.ascontiguousarray(lat_deg, dtype=np.float64)
        lon = np.ascontiguousarray(lon_deg, dtype=np.float64)
        pts, perm, offsets = K.layout(lat, lon)
        # pts/perm stay writeable: read-only arrays are a different numba type and would
        # need their own compiled specialisations. They are private and never handed out.
        for arr in (lat, lon):
            arr.setflags(write=False)
        set_(self, "_lat", lat)
        set_(self, "_lon", lon)
        set_(self, "_radius_miles", radius_miles)
        set_(self, "_pts", pts)
        set_(self, "_perm", perm)
        set_(self, "_offsets", offsets)
        set_(self, "_matrix", self._build_matrix() if len(ids) <= MATRIX_MAX_ROWS else None)

    def __setattr__(self, name, value):
        raise AttributeError("InstitutionTable is immutable")

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_records(cls, records: Iterable[Mapping],
                     radius_miles: float = DEFAULT_RADIUS_MILES
                     ) -> InstitutionTable:
        """Build from mappings with ``id``, ``latitude``, ``longitude`` (other keys ignored).

        Raises TableError (a ValueError) naming a missing key, a bad or duplicate id, a NaN
        or out-of-range coordinate, or an empty list.
        """
        ids: list[str] = []
        lats: list[float] = []
        lons: list[float] = []
        for row_no, rec in enumerate(records, start=1):
            try:
                ident, lat, lon = rec["id"], rec["latitude"], rec["longitude"]
            except KeyError as exc:
                raise TableError(f"record {row_no} has no {exc.args[0]!r}") from None
            except TypeError:
                raise TableError(f"record {row_no} is not a mapping: {rec!r}") from None
            ids.append(ident)
            lats.append(lat)
            lons.append(lon)
        return cls.from_arrays(ids, lats, lons, radius_miles)

    @classmethod
    def from_arrays(cls, ids: Sequence[str], lat_deg: Sequence[float], lon_deg: Sequence[float],
                    radius_miles: float = DEFAULT_RADIUS_MILES) -> InstitutionTable:
        """Build from parallel sequences (bulk form of :meth:`from_records`), same checks."""
        try:
            radius = check_miles(radius_miles)
        except ValueError as exc:
            raise TableError(str(exc)) from None
        ids_t = tuple(ids)
        if not ids_t:
            raise TableError("empty table: no institution records")
        if not len(ids_t) == len(lat_deg) == len(lon_deg):
            raise TableError("ids, latitudes and longitudes differ in length")
        seen: set[str] = set()
        for ident in ids_t:
            if not isinstance(ident, str) or not ident:
                raise TableError(f"institution id {ident!r} is not a non-empty string")
            if ident in seen:
                raise TableError(f"duplicate institution id {ident!r}")
            seen.add(ident)
        try:
            lat = np.asarray(lat_deg, dtype=np.float64)
            lon = np.asarray(lon_deg, dtype=np.float64)
        except (TypeError, ValueError):
            lat = lon = None
        if lat is None or not _all_in_range(lat, lon):
            for ident, la, lo in zip(ids_t, lat_deg, lon_deg, strict=True):
                try:
                    check_point(la, lo, f"institution {ident!r}")
                except ValueError as exc:
                    raise TableError(str(exc)) from None
            lat = np.array([float(x) for x in lat_deg])
            lon = np.array([float(x) for x in lon_deg])
        return cls(ids_t, lat, lon, radius)

    def _build_matrix(self) -> np.ndarray:
        radius_m = self._radius_miles * METERS_PER_MILE
        pts, perm = K.lat_sorted(self._lat, self._lon)
        matrix, unresolved = K.beyond_matrix(pts, perm, radius_m)
        for i, j in unresolved:
            _, within = exact_pair_within(
                self._lat[i], self._lon[i], self._lat[j], self._lon[j], self._radius_miles
            )
            matrix[i, j] = matrix[j, i] = not within
        matrix.setflags(write=False)
        return matrix

    # -- basic facts ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"InstitutionTable({len(self)} institutions, radius {self._radius_miles} miles)"

    @property
    def ids(self) -> tuple[str, ...]:
        """Institution ids in table order (the records' order)."""
        return self._ids

    @property
    def radius_miles(self) -> float:
        """The program radius the pairwise matrix was built for."""
        return self._radius_miles

    @property
    def lat_deg(self) -> np.ndarray:
        """Latitudes in degrees, table order (a read-only array; writing raises ValueError)."""
        return self._lat

    @property
    def lon_deg(self) -> np.ndarray:
        """Longitudes in degrees, table order (a read-only array; writing raises ValueError)."""
        return self._lon

    def index_of(self, institution_id: str) -> int:
        """Row of ``institution_id`` in table order; KeyError naming it when unknown."""
        try:
            return self._index[institution_id]
        except (KeyError, TypeError):
            raise KeyError(f"unknown institution id {institution_id!r}") from None

    # -- queries --------------------------------------------------------------------

    def distances_from(self, lat_deg: float, lon_deg: float) -> np.ndarray:
        """Exact geodesic miles from a point to every institution, table order."""
        lat, lon = check_point(lat_deg, lon_deg)
        out = K.distances_miles(self._pts, self._perm, lat, lon)
        bad = np.flatnonzero(np.isnan(out))
        for i in bad:  # Vincenty did not converge: nearly antipodal
            out[i] = reference_geodesic_m(lat, lon, self._lat[i], self._lon[i]) / METERS_PER_MILE
        return out

    def within(self, lat_deg: float, lon_deg: float,
               miles: float = DEFAULT_RADIUS_MILES) -> np.ndarray:
        """Bool mask, table order: geodesic distance <= ``miles`` (exact at the boundary)."""
        try:  # the common case in a few comparisons (NaN fails them too)
            ok = -90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0 and 0.0 <= miles < _INF
        except TypeError:
            ok = False
        if not ok:
            lat_deg, lon_deg = check_point(lat_deg, lon_deg)
            miles = check_miles(miles)
        fn = _Entry.within
        if fn is None:
            _Entry.bind()
            fn = _Entry.within
        mask, unresolved = fn(self._pts, self._perm, self._offsets, lat_deg, lon_deg,
                              miles * METERS_PER_MILE)
        if unresolved:  # rare: nearly antipodal, or a close call at the limit
            lat, lon, radius = float(lat_deg), float(lon_deg), float(miles)
            for i in K.unresolved_rows(self._pts, self._perm, self._offsets, lat, lon,
                                       radius * METERS_PER_MILE):
                _, mask[i] = exact_pair_within(lat, lon, self._lat[i], self._lon[i], radius)
        return mask

    def eligible_from(self, home_id: str, residence: tuple[float, float] | None = None,
                      miles: float = DEFAULT_RADIUS_MILES) -> list[str]:
        """Ids farther than ``miles`` from the home institution and from ``residence``.

        ``residence`` is a (lat, lon) pair in degrees. The home institution is excluded.
        Sorted by exact distance from home, nearest first (ties by id).
        """
        home = self.index_of(home_id)
        miles = check_miles(miles)
        lat_h, lon_h = float(self._lat[home]), float(self._lon[home])
        if miles == self._radius_miles and self._matrix is not None:
            beyond = self._matrix[home].copy()
        else:
            beyond = ~self.within(lat_h, lon_h, miles)
        beyond[home] = False
        if residence is not None:
            try:
                lat_r, lon_r = residence
            except (TypeError, ValueError):
                raise ValueError(f"residence must be a (lat, lon) pair, got {residence!r}"
                                 ) from None
            lat_r, lon_r = check_point(lat_r, lon_r, "residence")
            beyond &= ~self.within(lat_r, lon_r, miles)
        rows = np.flatnonzero(beyond)
        dist = self.distances_from(lat_h, lon_h)[rows]
        # Nearest first; equal distances in id order (rank of each id precomputed).
        ids = self._ids
        return [ids[k] for k in rows[np.lexsort((self._id_rank[rows], dist))]]

    def near(self, lat_deg: float, lon_deg: float, limit: int = 10) -> list[tuple[str, float]]:
        """The ``limit`` institutions nearest a point: (id, exact miles), nearest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a whole number >= 0, got {limit!r}")
        dist = self.distances_from(lat_deg, lon_deg)
        order = np.argsort(dist, kind="stable")[:limit]
        return [(self._ids[i], float(dist[i])) for i in order]

    def distance_between(self, id_a: str, id_b: str) -> float:
        """Exact geodesic miles between two institutions."""
        i, j = self.index_of(id_a), self.index_of(id_b)
        return geodesic_miles(float(self._lat[i]), float(self._lon[i]),
                              float(self._lat[j]), float(self._lon[j]))

    def beyond(self, id_a: str, id_b: str) -> bool:
        """True when the two institutions are more than the table radius apart (exact)."""
        try:
            i = self._index[id_a]
            j = self._index[id_b]
        except (KeyError, TypeError):
            self.index_of(id_a)
            self.index_of(id_b)
            raise
        if self._matrix is not None:
            return bool(self._matrix[i, j])
        _, within = exact_pair_within(float(self._lat[i]), float(self._lon[i]),
                                      float(self._lat[j]), float(self._lon[j]),
                                      self._radius_miles)
        return not within

    def distance_and_beyond_from_point(self, lat_deg: float, lon_deg: float, institution_id: str,
                                       miles: float | None = None) -> tuple[float, bool]:
        """(exact miles from the point to the institution, distance > ``miles``).

        ``miles`` defaults to the table radius.
        """
        lat, lon = check_point(lat_deg, lon_deg)
        radius = self._radius_miles if miles is None else check_miles(miles)
        i = self.index_of(institution_id)
        d_miles, within = exact_pair_within(lat, lon, float(self._lat[i]), float(self._lon[i]),
                                            radius)
        return d_miles, not within


def _all_in_range(lat: np.ndarray, lon: np.ndarray) -> bool:
    # Comparisons with NaN are False, so NaN fails this check too.
    return bool(np.all((lat >= -90.0) & (lat <= 90.0) & (lon >= -180.0) & (lon <= 180.0)))
