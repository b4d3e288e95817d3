"""3D results: a small coloured mesh written as binary glTF 2.0 (GLB) by hand with `struct`.

From a prompt: a shape (cube, pyramid, octahedron, faceted sphere) with a colour, both from a
hash of model, prompt and seed. From an image: a relief whose heights are the image's
brightness and whose vertex colours are its pixels, so the input visibly shapes the result.
Every file has positions, normals, vertex colours, indices and one PBR material, and opens
in any glTF viewer (three.js, Blender, <model-viewer>).
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import math
import random
import struct

from PIL import Image

GLB_MAGIC = b"glTF"
RELIEF_GRID = 32

Vec = tuple[float, float, float]


def _rng(*parts: object) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big"))


# ---------------------------------------------------------------------- geometry


def _sphere(rings: int = 8, segments: int = 12) -> tuple[list[Vec], list[tuple[int, int, int]]]:
    vertices: list[Vec] = []
    for i in range(rings + 1):
        theta = math.pi * i / rings
        for j in range(segments):
            phi = math.tau * j / segments
            vertices.append((math.sin(theta) * math.cos(phi), math.cos(theta), math.sin(theta) * math.sin(phi)))
    faces = []
    for i in range(rings):
        for j in range(segments):
            a, b = i * segments + j, i * segments + (j + 1) % segments
            c, d = a + segments, b + segments
            faces += [(a, b, c), (b, d, c)]
    return vertices, faces


_SHAPES: dict[str, tuple[list[Vec], list[tuple[int, int, int]]]] = {
    "cube": (
        [(-1, -1, -1), (1, -1, -1), (1, 1, -1), (-1, 1, -1), (-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)],
        [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4),
         (2, 3, 7), (2, 7, 6), (1, 2, 6), (1, 6, 5), (0, 4, 7), (0, 7, 3)],
    ),
    "pyramid": (
        [(-1, -1, -1), (1, -1, -1), (1, -1, 1), (-1, -1, 1), (0, 1, 0)],
        [(0, 1, 2), (0, 2, 3), (0, 4, 1), (1, 4, 2), (2, 4, 3), (3, 4, 0)],
    ),
    "octahedron": (
        [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)],
        [(0, 2, 4), (4, 2, 1), (1, 2, 5), (5, 2, 0), (0, 4, 3), (4, 1, 3), (1, 5, 3), (5, 0, 3)],
    ),
    "sphere": _sphere(),
}
SHAPES = tuple(_SHAPES)


def _flat(
    vertices: list[Vec], faces: list[tuple[int, int, int]], colour_of: list[tuple[float, float, float]]
) -> tuple[list[Vec], list[Vec], list[tuple[float, float, float]], list[int]]:
    """Unshared vertices per face, so each face has its own normal (a faceted look)."""
    positions, normals, colours, indices = [], [], [], []
    for face in faces:
        a, b, c = (vertices[i] for i in face)
        u = [b[k] - a[k] for k in range(3)]
        v = [c[k] - a[k] for k in range(3)]
        n = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
        length = math.sqrt(sum(x * x for x in n)) or 1.0
        normal = (n[0] / length, n[1] / length, n[2] / length)
        for i in face:
            indices.append(len(positions))
            positions.append(vertices[i])
            normals.append(normal)
            colours.append(colour_of[i])
    return positions, normals, colours, indices


def from_prompt(model: str, prompt: str, seed: int) -> bytes:
    rng = _rng("3d", model, prompt, seed)
    shape = SHAPES[rng.randrange(len(SHAPES))]
    vertices, faces = _SHAPES[shape]
    hue = rng.random()
    scale = (0.6 + rng.random() * 0.6, 0.6 + rng.random() * 0.6, 0.6 + rng.random() * 0.6)
    scaled = [(x * scale[0], y * scale[1], z * scale[2]) for x, y, z in vertices]
    colours = [colorsys.hsv_to_rgb((hue + 0.08 * (y + 1)) % 1.0, 0.7, 0.9) for _, y, _ in vertices]
    return write_glb(*_flat(scaled, faces, colours), name=f"{shape}: {prompt[:60]}")


def from_image(image: Image.Image, model: str, seed: int) -> bytes:
    """A relief: a grid over the image, raised by brightness, coloured by the pixels."""
    grid = RELIEF_GRID
    small = image.convert("RGB").resize((grid, grid))
    lum = small.convert("L")
    rng = _rng("relief", model, seed)
    height_scale = 0.3 + rng.random() * 0.4
    vertices: list[Vec] = []
    colours: list[tuple[float, float, float]] = []
    for row in range(grid):
        for col in range(grid):
            r, g, b = small.getpixel((col, row))  # type: ignore[misc]
            level = lum.getpixel((col, row)) / 255  # type: ignore[operator]
            vertices.append((col / (grid - 1) * 2 - 1, level * height_scale, row / (grid - 1) * 2 - 1))
            colours.append((r / 255, g / 255, b / 255))
    faces = []
    for row in range(grid - 1):
        for col in range(grid - 1):
            a = row * grid + col
            faces += [(a, a + grid, a + 1), (a + 1, a + grid, a + grid + 1)]
    return write_glb(*_flat(vertices, faces, colours), name="relief")


# ------------------------------------------------------------------------- GLB


def write_glb(
    positions: list[Vec],
    normals: list[Vec],
    colours: list[tuple[float, float, float]],
    indices: list[int],
    *,
    name: str,
) -> bytes:
    """A GLB: 12-byte header, a JSON chunk and a BIN chunk, each padded to 4 bytes (glTF 2.0 §4.4)."""
    count = len(positions)
    blobs = [
        b"".join(struct.pack("<3f", *p) for p in positions),
        b"".join(struct.pack("<3f", *n) for n in normals),
        b"".join(struct.pack("<3f", *c) for c in colours),
        struct.pack(f"<{len(indices)}I", *indices),
    ]
    views, offset = [], 0
    for index, blob in enumerate(blobs):
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(blob)}
        view["target"] = 34963 if index == 3 else 34962  # ELEMENT_ARRAY_BUFFER / ARRAY_BUFFER
        views.append(view)
        offset += len(blob)
    binary = b"".join(blobs)
    lows = [min(p[k] for p in positions) for k in range(3)]
    highs = [max(p[k] for p in positions) for k in range(3)]
    document = {
        "asset": {"version": "2.0", "generator": "runware-web simulator"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"name": name, "primitives": [{
            "attributes": {"POSITION": 0, "NORMAL": 1, "COLOR_0": 2}, "indices": 3, "material": 0,
        }]}],
        "materials": [{"name": "surface", "doubleSided": True, "pbrMetallicRoughness": {
            "baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.1, "roughnessFactor": 0.7,
        }}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": count, "type": "VEC3", "min": lows, "max": highs},
            {"bufferView": 1, "componentType": 5126, "count": count, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5126, "count": count, "type": "VEC3"},
            {"bufferView": 3, "componentType": 5125, "count": len(indices), "type": "SCALAR"},
        ],
    }
    json_chunk = json.dumps(document, separators=(",", ":")).encode()
    json_chunk += b" " * (-len(json_chunk) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    return b"".join((
        struct.pack("<4sII", GLB_MAGIC, 2, total),
        struct.pack("<I4s", len(json_chunk), b"JSON"), json_chunk,
        struct.pack("<I4s", len(binary), b"BIN\0"), binary,
    ))
