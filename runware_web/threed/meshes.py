"""Reading a 3D model (binary glTF, GLB) for its thumbnail: a small flat-shaded picture of it.

Runware returns no picture of a 3D model, so the portal draws one: every triangle of the model's
meshes, turned a little to show three sides, projected orthographically, lit from the upper left
and painted far to near (Pillow; a mesh of tens of thousands of triangles takes a fraction of a
second). Colours come from the vertex colours or the material's base colour; textures are not
read, and nodes' transforms are not applied. A file whose geometry cannot be read (compressed
with Draco, say) gets a plain picture saying it is a 3D model.
"""

from __future__ import annotations

import array
import json
import math
import struct
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageDraw

THUMB_SIDE = 512
MAX_TRIANGLES = 60_000  # more are thinned out evenly: a thumbnail does not need them all
_SUPERSAMPLE = 2
_YAW, _PITCH = math.radians(35), math.radians(25)
_LIGHT = (-0.45, 0.6, 0.66)
_PLAIN = (140, 150, 170)
_TRIANGLES = 4  # glTF primitive mode

_COMPONENTS = {5120: ("b", 1), 5121: ("B", 1), 5122: ("h", 2), 5123: ("H", 2), 5125: ("I", 4), 5126: ("f", 4)}
_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
_NORMALIZED = {5121: 255, 5123: 65535}

Vec = tuple[float, float, float]
Triangle = tuple[Vec, Vec, Vec, tuple[float, float, float]]


class NotAModel(ValueError):
    """The file is not a GLB whose geometry can be read."""


@dataclass(frozen=True)
class Glb:
    document: dict
    binary: bytes


def read_glb(data: bytes) -> Glb:
    """The JSON document and binary chunk of a GLB (glTF 2.0 §4.4)."""
    if len(data) < 20 or data[:4] != b"glTF":
        raise NotAModel("Not a binary glTF file.")
    _, version, _ = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise NotAModel(f"glTF version {version} is not 2.")
    offset, document, binary = 12, None, b""
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from("<I4s", data, offset)
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"JSON":
            document = json.loads(chunk)
        elif kind == b"BIN\0":
            binary = chunk
        offset += 8 + length
    if not isinstance(document, dict):
        raise NotAModel("The file has no glTF document.")
    return Glb(document, binary)


def _accessor(glb: Glb, index: int) -> list[tuple[float, ...]]:
    """An accessor's elements as tuples of numbers (normalized integers as 0–1)."""
    accessor = glb.document["accessors"][index]
    view = glb.document["bufferViews"][accessor["bufferView"]]
    if view.get("buffer", 0) != 0:
        raise NotAModel("Geometry in an external buffer.")
    code, size = _COMPONENTS[accessor["componentType"]]
    width = _WIDTHS[accessor["type"]]
    count = accessor["count"]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    stride = view.get("byteStride") or size * width
    scale = _NORMALIZED.get(accessor["componentType"]) if accessor.get("normalized") else None
    if stride == size * width:
        flat = array.array(code, glb.binary[start : start + count * stride])
        items = [tuple(flat[k : k + width]) for k in range(0, len(flat), width)]
    else:
        element = struct.Struct(f"<{width}{code}")
        items = [element.unpack_from(glb.binary, start + k * stride) for k in range(count)]
    if scale:
        items = [tuple(value / scale for value in item) for item in items]
    return items


def triangles(glb: Glb) -> list[Triangle]:
    """Every triangle of every mesh: its three corners and its colour (0–1 RGB)."""
    document = glb.document
    found: list[Triangle] = []
    materials = document.get("materials") or []
    for mesh in document.get("meshes") or []:
        for primitive in mesh.get("primitives") or []:
            attributes = primitive.get("attributes") or {}
            if primitive.get("mode", _TRIANGLES) != _TRIANGLES or "POSITION" not in attributes:
                continue
            positions = _accessor(glb, attributes["POSITION"])
            colours = _accessor(glb, attributes["COLOR_0"]) if "COLOR_0" in attributes else None
            material = materials[primitive["material"]] if "material" in primitive else {}
            base = (material.get("pbrMetallicRoughness") or {}).get("baseColorFactor") or [0.8, 0.8, 0.8, 1]
            if "indices" in primitive:
                indices = [int(item[0]) for item in _accessor(glb, primitive["indices"])]
            else:
                indices = list(range(len(positions)))
            for k in range(0, len(indices) - 2, 3):
                a, b, c = indices[k : k + 3]
                if colours is not None:
                    colour = tuple(sum(colours[i][n] for i in (a, b, c)) / 3 * base[n] for n in range(3))
                else:
                    colour = tuple(base[:3])
                found.append((positions[a][:3], positions[b][:3], positions[c][:3], colour))  # type: ignore[arg-type]
    return found


def thumbnail(data: bytes) -> PILImage.Image:
    """The model as a square RGBA picture, THUMB_SIDE on a side (a plain one if it cannot be read)."""
    try:
        faces = triangles(read_glb(data))
    except (NotAModel, KeyError, IndexError, TypeError, ValueError, struct.error):
        faces = []
    if not faces:
        return _plain()
    if len(faces) > MAX_TRIANGLES:
        step = len(faces) / MAX_TRIANGLES
        faces = [faces[int(k * step)] for k in range(MAX_TRIANGLES)]
    return _draw(faces)


def _turn(point: Vec) -> Vec:
    x, y, z = point
    x, z = x * math.cos(_YAW) - z * math.sin(_YAW), x * math.sin(_YAW) + z * math.cos(_YAW)
    y, z = y * math.cos(_PITCH) - z * math.sin(_PITCH), y * math.sin(_PITCH) + z * math.cos(_PITCH)
    return x, y, z


def _draw(faces: list[Triangle]) -> PILImage.Image:
    turned = [(_turn(a), _turn(b), _turn(c), colour) for a, b, c, colour in faces]
    xs = [p[0] for face in turned for p in face[:3]]
    ys = [p[1] for face in turned for p in face[:3]]
    middle = ((max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2)
    extent = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    side = THUMB_SIDE * _SUPERSAMPLE
    scale = side * 0.86 / extent
    light_length = math.sqrt(sum(v * v for v in _LIGHT))
    light = tuple(v / light_length for v in _LIGHT)
    picture = PILImage.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    # Far to near: the camera looks down -z, so the smallest z is the farthest.
    for a, b, c, colour in sorted(turned, key=lambda face: face[0][2] + face[1][2] + face[2][2]):
        u = (b[0] - a[0], b[1] - a[1], b[2] - a[2])
        v = (c[0] - a[0], c[1] - a[1], c[2] - a[2])
        normal = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
        length = math.sqrt(sum(n * n for n in normal)) or 1.0
        normal = tuple(n / length for n in normal)
        if normal[2] < 0:  # seen from behind: light the side that faces the camera
            normal = tuple(-n for n in normal)
        shade = 0.35 + 0.65 * max(0.0, sum(n * towards for n, towards in zip(normal, light, strict=True)))
        fill = tuple(max(0, min(255, round(255 * channel * shade))) for channel in colour) + (255,)
        corners = [
            (side / 2 + (p[0] - middle[0]) * scale, side / 2 - (p[1] - middle[1]) * scale) for p in (a, b, c)
        ]
        draw.polygon(corners, fill=fill, outline=fill)
    return picture.resize((THUMB_SIDE, THUMB_SIDE), PILImage.Resampling.LANCZOS)


def _plain() -> PILImage.Image:
    """A cube's outline: what a model looks like when its geometry could not be read."""
    picture = PILImage.new("RGBA", (THUMB_SIDE, THUMB_SIDE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    s = THUMB_SIDE
    front = [(0.3 * s, 0.4 * s), (0.62 * s, 0.4 * s), (0.62 * s, 0.72 * s), (0.3 * s, 0.72 * s)]
    back = [(x + 0.1 * s, y - 0.1 * s) for x, y in front]
    for face in (back, front):
        draw.polygon(face, outline=_PLAIN, width=6)
    for (x1, y1), (x2, y2) in zip(front, back, strict=True):
        draw.line([(x1, y1), (x2, y2)], fill=_PLAIN, width=6)
    return picture
