"""The inputs every benchmark row shares, built once per run (lazily, seeded).

- ``lat_400``/``lon_400``: the 368 shipped institutions plus 32 points placed 5-300 miles
  from random ones (the issue's N = 400);
- ``lat_big``/``lon_big``: 1,000,000 points scattered around the shipped institutions
  (Gaussian, sigma 2 degrees), i.e. as clustered as the real list;
- ``query``: the shipped institution with the most others within 90 miles (the densest
  spot, the slowest query for a filter that skips far rows);
- ``pairs``: accuracy pairs from shipped institutions, true distance uniform in 85-95 miles
  (placed with geographiclib's Direct, exact to nanometres).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from engine import METERS_PER_MILE

SHIPPED_CSV = Path(__file__).resolve().parents[1] / "data" / "institutions.csv"
RADIUS_MILES = 90.0
BIG_N = 1_000_000
SEED = 20260401


@dataclass
class Inputs:
    quick: bool = False
    big_n: int = BIG_N  # tests shrink it; the task is still labelled 1,000,000
    builds: list[dict] = field(default_factory=list)

    def note_build(self, name: str, seconds: float) -> None:
        """Record a one-off set-up cost (e.g. a BallTree build) shown apart from the table."""
        self.builds.append({"name": name, "seconds": seconds})

    @cached_property
    def records(self) -> list[dict]:
        with open(SHIPPED_CSV, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    @cached_property
    def _points_400(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        from geographiclib.geodesic import Geodesic

        rng = np.random.default_rng(SEED)
        ids = [r["id"] for r in self.records]
        lat = [float(r["latitude"]) for r in self.records]
        lon = [float(r["longitude"]) for r in self.records]
        for k in range(400 - len(ids)):
            o = int(rng.integers(len(self.records)))
            p = Geodesic.WGS84.Direct(lat[o], lon[o], rng.uniform(-180, 180),
                                      rng.uniform(5, 300) * METERS_PER_MILE)
            ids.append(f"synthetic-{k}")
            lat.append(p["lat2"])
            lon.append(p["lon2"])
        return ids, np.array(lat), np.array(lon)

    @property
    def ids_400(self) -> list[str]:
        return self._points_400[0]

    @property
    def lat_400(self) -> np.ndarray:
        return self._points_400[1]

    @property
    def lon_400(self) -> np.ndarray:
        return self._points_400[2]

    @cached_property
    def table_400(self):
        from engine import InstitutionTable

        return InstitutionTable.from_arrays(self.ids_400, self.lat_400, self.lon_400, RADIUS_MILES)

    @cached_property
    def query(self) -> tuple[float, float]:
        table = self.table_400
        n = len(self.records)
        counts = [int(table.within(la, lo, RADIUS_MILES).sum())
                  for la, lo in zip(self.lat_400[:n], self.lon_400[:n], strict=True)]
        densest = int(np.argmax(counts))
        return float(self.lat_400[densest]), float(self.lon_400[densest])

    @cached_property
    def _points_big(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(SEED + 1)
        origin = rng.integers(len(self.records), size=self.big_n)
        lat0 = self.lat_400[origin]
        lon0 = self.lon_400[origin]
        lat = np.clip(lat0 + rng.normal(0.0, 2.0, self.big_n), -89.9, 89.9)
        lon = lon0 + rng.normal(0.0, 2.0, self.big_n) / np.cos(np.radians(lat0))
        lon = (lon + 180.0) % 360.0 - 180.0
        return lat, lon

    @property
    def lat_big(self) -> np.ndarray:
        return self._points_big[0]

    @property
    def lon_big(self) -> np.ndarray:
        return self._points_big[1]

    @cached_property
    def table_big(self):
        from engine import InstitutionTable

        ids = [f"p{k}" for k in range(self.big_n)]
        return InstitutionTable.from_arrays(ids, self.lat_big, self.lon_big, RADIUS_MILES)

    @cached_property
    def pairs(self) -> dict[str, np.ndarray]:
        """Accuracy pairs: lat1, lon1, lat2, lon2 (degrees) and true_miles."""
        from geographiclib.geodesic import Geodesic

        n = 2_000 if self.quick else 100_000
        rng = np.random.default_rng(SEED + 2)
        origin = rng.integers(len(self.records), size=n)
        lat1 = self.lat_400[origin]
        lon1 = self.lon_400[origin]
        azi = rng.uniform(-180.0, 180.0, n)
        true_miles = rng.uniform(85.0, 95.0, n)
        lat2 = np.empty(n)
        lon2 = np.empty(n)
        direct = Geodesic.WGS84.Direct
        for k in range(n):
            p = direct(lat1[k], lon1[k], azi[k], true_miles[k] * METERS_PER_MILE)
            lat2[k] = p["lat2"]
            lon2[k] = (p["lon2"] + 180.0) % 360.0 - 180.0
        return {"lat1": lat1, "lon1": lon1, "lat2": lat2, "lon2": lon2, "true_miles": true_miles}
