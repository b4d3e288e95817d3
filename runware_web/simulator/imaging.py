"""Pillow rendering for every image task. Pure, blocking functions: the server runs them
in an executor. Everything is deterministic: equal inputs give equal pixels, and the
encoders are deterministic too, so equal requests give equal bytes.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import textwrap
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps, ImageStat

# outputFormat → (Pillow format, file extension, MIME type)
FORMATS: dict[str, tuple[str, str, str]] = {
    "PNG": ("PNG", "png", "image/png"),
    "JPG": ("JPEG", "jpg", "image/jpeg"),
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "WEBP": ("WEBP", "webp", "image/webp"),
}
EXTENSION_FORMAT = {"png": "PNG", "jpg": "JPG", "jpeg": "JPG", "webp": "WEBP"}


def digest(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def _rng(*parts: object) -> random.Random:
    return random.Random(int.from_bytes(digest(*parts)[:8], "big"))


# ------------------------------------------------------------------------ codecs


def decode(data: bytes) -> Image.Image:
    """Open image bytes; raises ValueError when they are not an image Pillow can read."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # Pillow raises many types for bad data
        raise ValueError(f"not a readable image ({exc.__class__.__name__})") from exc
    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    return image


def detect_format(data: bytes) -> tuple[str, str]:
    """(file extension, MIME type) of image bytes; a generic binary type for anything else."""
    try:
        pil_format = Image.open(io.BytesIO(data)).format or ""
    except Exception:  # not an image
        return "bin", "application/octet-stream"
    ext = "jpg" if pil_format == "JPEG" else pil_format.lower()
    return ext, Image.MIME.get(pil_format, f"image/{ext}")


def encode(image: Image.Image, output_format: str, quality: int = 95) -> bytes:
    pil_format = FORMATS[output_format][0]
    buffer = io.BytesIO()
    if pil_format == "JPEG":
        _flatten(image).save(buffer, "JPEG", quality=quality)
    elif pil_format == "WEBP":
        image.convert("RGBA" if image.mode == "RGBA" else "RGB").save(
            buffer, "WEBP", quality=quality, method=2
        )
    else:
        image.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def _flatten(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    if image.mode != "RGBA":
        return image.convert("RGB") if image.mode != "L" else image
    flat = Image.new("RGB", image.size, background)
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def _rgb(image: Image.Image) -> Image.Image:
    return _flatten(image).convert("RGB")


# -------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Outpaint:
    top: int = 0
    right: int = 0
    bottom: int = 0
    left: int = 0
    blur: int = 0


@dataclass(frozen=True)
class RenderSpec:
    """Everything that shapes one generated image (images are passed in, already decoded)."""

    model: str
    prompt: str
    seed: int
    width: int
    height: int
    steps: int = 20
    cfg: float = 7.0
    negative_prompt: str = ""
    scheduler: str = "Default"
    clip_skip: int = 0
    prompt_weighting: str | None = None
    loras: tuple[tuple[str, float], ...] = ()
    refiner: bool = False
    strength: float = 0.8
    outpaint: Outpaint | None = None
    seed_image: Image.Image | None = field(default=None, compare=False)
    mask_image: Image.Image | None = field(default=None, compare=False)
    guides: tuple[tuple[Image.Image, float], ...] = field(default=(), compare=False)


def render(spec: RenderSpec) -> Image.Image:
    rng = _rng(
        spec.model,
        spec.prompt,
        spec.negative_prompt,
        spec.seed,
        spec.scheduler,
        spec.clip_skip,
        spec.prompt_weighting,
    )
    size = (spec.width, spec.height)
    image = _background(rng, size)
    _shapes(image, rng)
    for air, weight in spec.loras:
        image = _lora_texture(image, air, weight)
    image = ImageEnhance.Contrast(image).enhance(0.75 + min(spec.cfg, 30.0) / 40)
    if spec.steps < 8:
        image = image.filter(ImageFilter.GaussianBlur((8 - spec.steps) * 0.6))
    for guide, weight in spec.guides:
        image = _apply_guide(image, guide, weight, rng)
    if spec.refiner:
        image = image.filter(ImageFilter.DETAIL)
    if spec.seed_image is not None:
        image = _compose_with_seed(image, spec)
    _label(image, spec.prompt, f"seed {spec.seed} · {spec.model}")
    return image


def _palette(rng: random.Random, count: int) -> list[tuple[int, int, int]]:
    base = rng.random()
    colours = []
    for i in range(count):
        hue = (base + i * rng.uniform(0.08, 0.35)) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.35, 0.95), rng.uniform(0.35, 1.0))
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    start, end = _palette(rng, 2)
    gradient = Image.linear_gradient("L")
    turn = rng.choice(
        (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)
    )
    if turn is not None:
        gradient = gradient.transpose(turn)
    mask = gradient.resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), mask)


def _shapes(image: Image.Image, rng: random.Random) -> None:
    """Crisp translucent shapes, so edge-based preprocessors find structure in generated images."""
    width, height = image.size
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    colours = _palette(rng, 5)
    for _ in range(rng.randint(6, 14)):
        colour = (*rng.choice(colours), rng.randint(90, 200))
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        x1, y1 = x0 + rng.uniform(0.1, 0.6) * width, y0 + rng.uniform(0.1, 0.6) * height
        kind = rng.random()
        if kind < 0.45:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind < 0.75:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], fill=colour)
    image.paste(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))


def _lora_texture(image: Image.Image, air: str, weight: float) -> Image.Image:
    """Diagonal stripes tinted by the LoRA; stronger with |weight|, complementary when negative."""
    rng = _rng("lora", air)
    colour = _palette(rng, 1)[0]
    if weight < 0:
        colour = (255 - colour[0], 255 - colour[1], 255 - colour[2])
    width, height = image.size
    mask = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(mask)
    spacing = rng.randint(24, 64)
    alpha = int(min(abs(weight), 2.0) / 2.0 * 110)
    for offset in range(-height, width, spacing):
        draw.line((offset, 0, offset + height, height), fill=alpha, width=max(spacing // 4, 2))
    return Image.composite(Image.new("RGB", image.size, colour), image, mask)


def _apply_guide(image: Image.Image, guide: Image.Image, weight: float, rng: random.Random) -> Image.Image:
    """Paint the guide's bright structure (edges, pose, depth) into the image."""
    structure = ImageOps.fit(_rgb(guide), image.size).convert("L")
    mask = structure.point(lambda v: int(v * max(0.0, min(weight, 1.0))))
    colour = _palette(rng, 1)[0]
    return Image.composite(Image.new("RGB", image.size, colour), image, mask)


def _compose_with_seed(generated: Image.Image, spec: RenderSpec) -> Image.Image:
    assert spec.seed_image is not None
    seed = _rgb(spec.seed_image)
    if spec.outpaint is not None:
        return _outpaint(generated, seed, spec.outpaint)
    seed = ImageOps.fit(seed, generated.size)
    repainted = Image.blend(seed, generated, spec.strength)
    if spec.mask_image is None:
        return repainted
    mask = ImageOps.fit(spec.mask_image.convert("L"), generated.size)
    mask = mask.point(lambda v: 255 if v >= 128 else 0).filter(ImageFilter.GaussianBlur(2))
    return Image.composite(repainted, seed, mask)


def _outpaint(generated: Image.Image, seed: Image.Image, outpaint: Outpaint) -> Image.Image:
    """Keep the whole seed image in the inner rectangle, generate the borders, feather the seam.

    The inner rectangle is what `width × height` leaves inside the extension: the seed image's own
    size when the request follows Runware's rule (the result is the seed plus the extension). Should
    it differ, the seed is scaled to it, never cropped: outpainting loses nothing of the original."""
    width, height = generated.size
    inner = (outpaint.left, outpaint.top, width - outpaint.right, height - outpaint.bottom)
    inner_size = (inner[2] - inner[0], inner[3] - inner[1])
    canvas = generated.copy()
    kept = seed if seed.size == inner_size else seed.resize(inner_size, Image.Resampling.LANCZOS)
    canvas.paste(kept, inner[:2])
    keep = Image.new("L", generated.size, 0)
    ImageDraw.Draw(keep).rectangle((inner[0], inner[1], inner[2] - 1, inner[3] - 1), fill=255)
    if outpaint.blur:
        keep = keep.filter(ImageFilter.GaussianBlur(outpaint.blur))
    return Image.composite(canvas, generated, keep)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _label(image: Image.Image, prompt: str, caption: str) -> None:
    """Draw the prompt (small, in a translucent bar) and seed/model in the top corner."""
    width, height = image.size
    size = max(10, min(width, height) // 40)
    font = _font(size)
    pad = size // 2
    chars_per_line = max(10, int((width - 2 * pad) / (size * 0.55)))
    lines = textwrap.wrap(prompt, chars_per_line, max_lines=3, placeholder=" …") or [""]
    bar_height = len(lines) * (size + 4) + 2 * pad
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, height - bar_height, width, height), fill=(0, 0, 0, 140))
    for index, line in enumerate(lines):
        draw.text(
            (pad, height - bar_height + pad + index * (size + 4)), line, font=font, fill=(255, 255, 255, 235)
        )
    draw.text((pad, pad), caption, font=_font(max(9, size - 2)), fill=(255, 255, 255, 200))
    image.paste(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))


def hero_image(air: str, name: str) -> Image.Image:
    return render(
        RenderSpec(
            model=air,
            prompt=name,
            seed=int.from_bytes(digest(air)[:4], "big"),
            width=384,
            height=384,
            steps=30,
        )
    )


# ----------------------------------------------------------------------- caption

_NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "white": (240, 240, 240),
    "gray": (128, 128, 128),
    "silver": (192, 192, 192),
    "red": (200, 30, 30),
    "crimson": (150, 20, 40),
    "orange": (240, 140, 30),
    "yellow": (240, 220, 40),
    "olive": (120, 120, 30),
    "green": (40, 160, 60),
    "teal": (20, 130, 130),
    "cyan": (60, 210, 220),
    "blue": (40, 80, 210),
    "navy": (20, 30, 90),
    "purple": (120, 50, 160),
    "magenta": (210, 50, 180),
    "pink": (240, 150, 190),
    "brown": (120, 75, 40),
    "beige": (225, 205, 165),
}


def _colour_name(rgb: tuple[int, int, int]) -> str:
    return min(
        _NAMED_COLOURS, key=lambda n: sum((a - b) ** 2 for a, b in zip(_NAMED_COLOURS[n], rgb, strict=True))
    )


def dominant_colours(image: Image.Image, count: int = 3) -> list[str]:
    small = _rgb(image).resize((64, 64))
    quantized = small.quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    ranked = sorted(quantized.getcolors() or [], reverse=True)
    names: list[str] = []
    for _, index in ranked:
        name = _colour_name(tuple(palette[index * 3 : index * 3 + 3]))  # type: ignore[arg-type]
        if name not in names:
            names.append(name)
    return names[:count]


def describe(image: Image.Image, model: str, prompt: str | None) -> str:
    """A caption computed from the pixels: size, orientation, main colours, brightness."""
    width, height = image.size
    orientation = "landscape" if width > height * 1.1 else "portrait" if height > width * 1.1 else "square"
    stat = ImageStat.Stat(_rgb(image).convert("L"))
    mean, spread = stat.mean[0], stat.stddev[0]
    brightness = (
        "dark"
        if mean < 70
        else "dimly lit"
        if mean < 120
        else "evenly lit"
        if mean < 170
        else "bright"
        if mean < 215
        else "very bright, high-key"
    )
    contrast = "low" if spread < 30 else "moderate" if spread < 60 else "high"
    colours = dominant_colours(image)
    transparent = image.mode == "RGBA" and image.getchannel("A").getextrema()[0] < 255
    if model == "runware:151@1":  # CLIP interrogator style: comma-separated tags
        tags = [orientation, *colours, brightness.split(",")[0], f"{contrast} contrast"]
        return ", ".join(tags + (["transparent background"] if transparent else []))
    main = " and ".join(colours[:2]) if colours else "neutral"
    text = (
        f"A {orientation} {width}x{height} image dominated by {main} tones"
        + (f" with {colours[2]} accents" if len(colours) > 2 else "")
        + f". The scene is {brightness} with {contrast} contrast"
        + (", on a transparent background." if transparent else ".")
    )
    if prompt:
        text += f' Regarding "{prompt}": the most prominent colour is {colours[0] if colours else "neutral"}.'
    return text


# --------------------------------------------------------------------- utilities


def upscale(image: Image.Image, factor: float) -> Image.Image:
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.LANCZOS).filter(ImageFilter.UnsharpMask(2, 60, 2))


def _border_colour(image: Image.Image) -> tuple[int, int, int]:
    """Median colour of a 2-pixel frame around the image: what background removal treats as background."""
    width, height = image.size
    frame = Image.new("RGB", (2 * (width + height), 2))
    frame.paste(image.crop((0, 0, width, 2)), (0, 0))
    frame.paste(image.crop((0, height - 2, width, height)), (width, 0))
    frame.paste(image.crop((0, 0, 2, height)).rotate(90, expand=True), (2 * width, 0))
    frame.paste(image.crop((width - 2, 0, width, height)).rotate(90, expand=True), (2 * width + height, 0))
    r, g, b = (int(v) for v in ImageStat.Stat(frame).median)
    return r, g, b


def foreground_mask(image: Image.Image) -> Image.Image:
    """Soft mask (L): 0 where a pixel is close to the border colour, 255 where clearly different."""
    rgb = _rgb(image)
    difference = ImageChops.difference(rgb, Image.new("RGB", rgb.size, _border_colour(rgb)))
    r, g, b = difference.split()
    distance = ImageChops.lighter(ImageChops.lighter(r, g), b)
    return distance.point(lambda v: max(0, min(255, (v - 12) * 8))).filter(ImageFilter.MedianFilter(3))


@dataclass(frozen=True)
class BackgroundOptions:
    rgba: tuple[int, int, int, int] = (255, 255, 255, 0)
    return_only_mask: bool = False
    post_process_mask: bool = False
    alpha_matting: bool = False
    foreground_threshold: int = 240
    background_threshold: int = 10
    erode_size: int = 10


def remove_background(image: Image.Image, options: BackgroundOptions) -> Image.Image:
    alpha = foreground_mask(image)
    if options.alpha_matting:
        alpha = _matte(alpha, options)
    if options.post_process_mask:
        alpha = alpha.filter(ImageFilter.MedianFilter(5)).point(lambda v: 255 if v >= 128 else 0)
    if options.return_only_mask:
        return alpha
    cutout = _rgb(image).convert("RGBA")
    cutout.putalpha(alpha)
    return Image.alpha_composite(Image.new("RGBA", image.size, options.rgba), cutout)


def _matte(alpha: Image.Image, options: BackgroundOptions) -> Image.Image:
    """Trimap-style matting: sure foreground/background (eroded) stay hard, the band between is soft."""
    kernel = min(max(options.erode_size, 0), 12) * 2 + 1
    sure_fg = alpha.point(lambda v: 255 if v >= options.foreground_threshold else 0)
    sure_bg = alpha.point(lambda v: 255 if v <= options.background_threshold else 0)
    if kernel > 1:
        sure_fg = sure_fg.filter(ImageFilter.MinFilter(kernel))
        sure_bg = sure_bg.filter(ImageFilter.MinFilter(kernel))
    soft = alpha.filter(ImageFilter.GaussianBlur(max(1, kernel // 2)))
    return ImageChops.subtract(ImageChops.lighter(soft, sure_fg), sure_bg)


# ----------------------------------------------------------------------- masking

Box = tuple[int, int, int, int]

# runware:35@N → (detector kind, facial parts for mesh models)
MASKING_MODELS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("face", ()),
    2: ("face", ()),
    3: ("hand", ()),
    4: ("person", ()),
    5: ("person", ()),
    6: ("face", ()),
    7: ("face", ()),
    8: ("face", ()),
    9: ("mesh", ("eyes",)),
    10: ("mesh", ("eyes", "lips")),
    11: ("mesh", ("nose", "eyes")),
    12: ("mesh", ("nose", "lips")),
    13: ("mesh", ("nose",)),
    14: ("mesh", ("lips",)),
    15: ("mesh", ("eyes",)),
}

# Where facial parts sit inside a face box, as fractions (x0, y0, x1, y1).
_FACE_PARTS = {
    "eyes": (0.15, 0.28, 0.85, 0.45),
    "nose": (0.38, 0.4, 0.62, 0.65),
    "lips": (0.28, 0.68, 0.72, 0.84),
}


@dataclass(frozen=True)
class MaskingOptions:
    confidence: float = 0.25
    max_detections: int = 6
    padding: int = 4
    blur: int = 4


def _subjects(image: Image.Image) -> list[tuple[Box, float]]:
    """Connected foreground regions (on a 64-px grid) with a confidence from size and solidity."""
    grid = 64
    mask = foreground_mask(image).resize((grid, grid), Image.Resampling.BILINEAR)
    cells = [v >= 128 for v in mask.tobytes()]
    seen = [False] * len(cells)
    found: list[tuple[Box, float]] = []
    sx, sy = image.width / grid, image.height / grid
    for start, filled in enumerate(cells):
        if not filled or seen[start]:
            continue
        members = _flood(cells, seen, start, grid)
        if len(members) < 6:
            continue
        xs, ys = [i % grid for i in members], [i // grid for i in members]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs) + 1, max(ys) + 1
        solidity = len(members) / ((x1 - x0) * (y1 - y0))
        size = min(1.0, len(members) / (grid * grid * 0.05))
        confidence = round(0.35 + 0.4 * solidity * size + 0.2 * size, 3)
        found.append(((int(x0 * sx), int(y0 * sy), int(x1 * sx), int(y1 * sy)), confidence))
    return found


def _flood(cells: list[bool], seen: list[bool], start: int, grid: int) -> list[int]:
    queue, members = deque([start]), []
    seen[start] = True
    while queue:
        index = queue.popleft()
        members.append(index)
        x, y = index % grid, index // grid
        for nx, ny in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            neighbour = ny * grid + nx
            if 0 <= nx < grid and 0 <= ny < grid and cells[neighbour] and not seen[neighbour]:
                seen[neighbour] = True
                queue.append(neighbour)
    return members


def _sub_box(box: Box, fractions: tuple[float, float, float, float]) -> Box:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (
        int(x0 + fractions[0] * w),
        int(y0 + fractions[1] * h),
        int(x0 + fractions[2] * w),
        int(y0 + fractions[3] * h),
    )


def _detections_for(kind: str, parts: tuple[str, ...], subject: Box) -> list[Box]:
    if kind == "person":
        return [subject]
    if kind == "hand":
        return [_sub_box(subject, (0.0, 0.55, 0.3, 0.8)), _sub_box(subject, (0.7, 0.55, 1.0, 0.8))]
    face = _sub_box(subject, (0.25, 0.0, 0.75, 0.45))
    if kind == "face":
        return [face]
    return [_sub_box(face, _FACE_PARTS[part]) for part in parts]


def detect_and_mask(
    image: Image.Image, model_number: int, options: MaskingOptions
) -> tuple[Image.Image, list[Box]]:
    """Detect subjects, derive the model's regions (faces, hands, persons, facial parts) and draw the mask."""
    kind, parts = MASKING_MODELS[model_number]
    subjects = _subjects(image)
    if not subjects:
        width, height = image.size
        subjects = [((width // 4, height // 4, 3 * width // 4, 3 * height // 4), 0.3)]
    subjects = sorted((s for s in subjects if s[1] >= options.confidence), key=lambda s: -s[1])
    boxes: list[Box] = []
    for subject, _ in subjects:
        boxes.extend(_detections_for(kind, parts, subject))
    boxes = boxes[: options.max_detections]
    mask = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(mask)
    person_fill = foreground_mask(image) if kind == "person" else None
    for x0, y0, x1, y1 in boxes:
        p = options.padding
        padded = (x0 - p, y0 - p, max(x0 - p, x1 + p), max(y0 - p, y1 + p))
        if person_fill is not None:
            region = Image.new("L", image.size, 0)
            ImageDraw.Draw(region).rectangle(padded, fill=255)
            mask = ImageChops.lighter(mask, ImageChops.multiply(region, person_fill))
            draw = ImageDraw.Draw(mask)
        else:
            draw.ellipse(padded, fill=255)
    if options.blur > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(options.blur))
    return mask, boxes


# ------------------------------------------------------------ ControlNet guides

PREPROCESSORS = (
    "canny",
    "depth",
    "mlsd",
    "normalbae",
    "openpose",
    "tile",
    "seg",
    "lineart",
    "lineart_anime",
    "shuffle",
    "scribble",
    "softedge",
)


@dataclass(frozen=True)
class PreprocessOptions:
    low_threshold: int = 100
    high_threshold: int = 200
    hands_and_face: bool = False


def preprocess(image: Image.Image, kind: str, options: PreprocessOptions) -> Image.Image:
    gray = _rgb(image).convert("L")
    if kind == "canny":
        return canny(image, options.low_threshold, options.high_threshold).convert("RGB")
    if kind == "mlsd":
        return canny(image, max(options.low_threshold, 150), max(options.high_threshold, 300)).convert("RGB")
    if kind == "scribble":
        return canny(image, 50, 150).filter(ImageFilter.MaxFilter(5)).convert("RGB")
    if kind == "softedge":
        edges = gray.filter(ImageFilter.GaussianBlur(1)).filter(ImageFilter.FIND_EDGES)
        return ImageOps.autocontrast(edges.filter(ImageFilter.GaussianBlur(2))).convert("RGB")
    if kind in ("lineart", "lineart_anime"):
        lines = ImageOps.invert(gray.filter(ImageFilter.GaussianBlur(0.8)).filter(ImageFilter.CONTOUR))
        lines = ImageOps.autocontrast(lines).point(lambda v: 255 if v > 60 else v * 2)
        if kind == "lineart_anime":
            lines = lines.filter(ImageFilter.MaxFilter(3))
        return lines.convert("RGB")
    if kind == "depth":
        return _depth(gray)
    if kind == "normalbae":
        return _normals(gray)
    if kind == "openpose":
        return _pose(image, options.hands_and_face)
    if kind == "tile":
        small = image.resize((max(1, image.width // 8), max(1, image.height // 8)), Image.Resampling.BOX)
        return _rgb(small).resize(image.size, Image.Resampling.BICUBIC)
    if kind == "seg":
        return _segments(image)
    return _shuffle(image)


def _sobel(image: Image.Image, weights: list[int], *, scale: int, offset: int = 0) -> Image.Image:
    return image.filter(ImageFilter.Kernel((3, 3), weights, scale=scale, offset=offset))


_SOBEL_X = [-1, 0, 1, -2, 0, 2, -1, 0, 1]
_SOBEL_Y = [-1, -2, -1, 0, 0, 0, 1, 2, 1]


def canny(image: Image.Image, low: int, high: int) -> Image.Image:
    """Colour Sobel magnitude (max over channels and directions, i.e. max(|gx|, |gy|)) with a double
    threshold and two rounds of hysteresis; white edges on black."""
    smooth = _rgb(image).filter(ImageFilter.GaussianBlur(1.0))
    magnitude = Image.new("L", image.size, 0)
    for weights in (_SOBEL_X, _SOBEL_Y):
        for sign in (1, -1):
            for band in _sobel(smooth, [sign * w for w in weights], scale=4).split():
                magnitude = ImageChops.lighter(magnitude, band)
    strong = magnitude.point(lambda v: 255 if v * 4 >= high else 0)
    weak = magnitude.point(lambda v: 255 if v * 4 >= low else 0)
    grown = strong
    for _ in range(2):
        grown = ImageChops.lighter(strong, ImageChops.multiply(weak, grown.filter(ImageFilter.MaxFilter(3))))
    return grown


def _depth(gray: Image.Image) -> Image.Image:
    blurred = gray.filter(ImageFilter.GaussianBlur(max(2, min(gray.size) // 50)))
    nearness = Image.linear_gradient("L").resize(gray.size)  # lower in the frame = nearer = brighter
    return ImageOps.autocontrast(Image.blend(blurred, nearness, 0.5)).convert("RGB")


def _normals(gray: Image.Image) -> Image.Image:
    smooth = gray.filter(ImageFilter.GaussianBlur(2))
    red = _sobel(smooth, [-w for w in _SOBEL_X], scale=8, offset=128)
    green = _sobel(smooth, [-w for w in _SOBEL_Y], scale=8, offset=128)
    return Image.merge("RGB", (red, green, Image.new("L", gray.size, 255)))


_POSE_COLOURS = [
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (170, 255, 0),
    (0, 255, 85),
    (0, 170, 255),
    (0, 85, 255),
    (85, 0, 255),
    (170, 0, 255),
    (255, 0, 170),
]


def _pose(image: Image.Image, hands_and_face: bool) -> Image.Image:
    """A stick figure fitted to the main subject, in OpenPose's colour scheme."""
    subjects = _subjects(image)
    box = (
        max(subjects, key=lambda s: s[1])[0]
        if subjects
        else (image.width // 4, image.height // 8, 3 * image.width // 4, 7 * image.height // 8)
    )
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0

    def at(fx: float, fy: float) -> tuple[float, float]:
        return x0 + fx * w, y0 + fy * h

    joints = {
        "head": at(0.5, 0.1),
        "neck": at(0.5, 0.22),
        "l_shoulder": at(0.3, 0.24),
        "r_shoulder": at(0.7, 0.24),
        "l_hand": at(0.18, 0.55),
        "r_hand": at(0.82, 0.55),
        "l_hip": at(0.38, 0.58),
        "r_hip": at(0.62, 0.58),
        "l_foot": at(0.35, 0.98),
        "r_foot": at(0.65, 0.98),
    }
    limbs = [
        ("head", "neck"),
        ("neck", "l_shoulder"),
        ("neck", "r_shoulder"),
        ("l_shoulder", "l_hand"),
        ("r_shoulder", "r_hand"),
        ("neck", "l_hip"),
        ("neck", "r_hip"),
        ("l_hip", "l_foot"),
        ("r_hip", "r_foot"),
    ]
    canvas = Image.new("RGB", image.size, (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    thickness = max(2, min(image.size) // 80)
    for index, (a, b) in enumerate(limbs):
        draw.line((*joints[a], *joints[b]), fill=_POSE_COLOURS[index % len(_POSE_COLOURS)], width=thickness)
    for index, (x, y) in enumerate(joints.values()):
        r = thickness * 1.5
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_POSE_COLOURS[index % len(_POSE_COLOURS)])
    if hands_and_face:
        _pose_details(draw, joints, w, thickness)
    return canvas


def _pose_details(draw: ImageDraw.ImageDraw, joints: dict[str, tuple[float, float]], w: int, r: int) -> None:
    hx, hy = joints["head"]
    for dx, dy in ((-0.06, -0.02), (0.06, -0.02), (0.0, 0.02), (-0.04, 0.05), (0.04, 0.05)):
        x, y = hx + dx * w, hy + dy * w
        draw.ellipse((x - r / 2, y - r / 2, x + r / 2, y + r / 2), fill=(255, 255, 255))
    for hand in ("l_hand", "r_hand"):
        cx, cy = joints[hand]
        for finger in range(5):
            x, y = cx + (finger - 2) * r * 1.5, cy + r * 3
            draw.line((cx, cy, x, y), fill=(0, 0, 255), width=max(1, r // 2))


_SEG_PALETTE = [
    (120, 120, 120),
    (180, 120, 120),
    (6, 230, 230),
    (80, 50, 50),
    (4, 200, 3),
    (120, 120, 80),
    (140, 140, 140),
    (204, 5, 255),
]


def _segments(image: Image.Image) -> Image.Image:
    small = _rgb(image).resize((max(1, image.width // 8), max(1, image.height // 8)), Image.Resampling.BOX)
    quantized = small.quantize(colors=len(_SEG_PALETTE))
    quantized.putpalette([channel for colour in _SEG_PALETTE for channel in colour])
    return quantized.convert("RGB").resize(image.size, Image.Resampling.NEAREST)


def _shuffle(image: Image.Image) -> Image.Image:
    """Content shuffle: tiles permuted deterministically (seeded by the pixels)."""
    rgb = _rgb(image)
    grid = 8
    tw, th = max(1, rgb.width // grid), max(1, rgb.height // grid)
    tiles = [rgb.crop((x * tw, y * th, (x + 1) * tw, (y + 1) * th)) for y in range(grid) for x in range(grid)]
    _rng("shuffle", hashlib.sha256(rgb.tobytes()).hexdigest()).shuffle(tiles)
    result = rgb.copy()
    for index, tile in enumerate(tiles):
        result.paste(tile, ((index % grid) * tw, (index // grid) * th))
    return result.filter(ImageFilter.GaussianBlur(2))
