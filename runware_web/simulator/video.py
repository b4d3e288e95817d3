"""Video files for the simulator: generated clips, and the frames of input videos.

Encoding uses PyAV, whose wheels ship FFmpeg with libx264 and libvpx, so every result is a
real file that browsers and players open: H.264 in MP4 or MOV, VP9 in WebM (with an alpha
channel after background removal; MOV then uses QuickTime RLE, which keeps alpha too).
Pure, blocking functions: the engine runs them in its executor. Clips are rendered small
(at most `MAX_RENDER_SIDE` px) and at a low frame rate, so a task takes milliseconds.
"""

from __future__ import annotations

import colorsys
import io
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
from PIL import Image, ImageDraw, ImageOps

from . import audio, imaging

MAX_RENDER_SIDE = 256
MAX_RENDER_FPS = 12
MAX_INPUT_SECONDS = 60
MAX_INPUT_FRAMES = 900
MAX_INPUT_SIDE = 1920

# outputFormat → (extension, MIME type, container)
FORMATS: dict[str, tuple[str, str, str]] = {
    "MP4": ("mp4", "video/mp4", "mp4"),
    "WEBM": ("webm", "video/webm", "webm"),
    "MOV": ("mov", "video/quicktime", "mov"),
}
# What a stored file's leading bytes say it is (used to recognise uploaded videos).
CONTAINER_EXTENSIONS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "matroska": "webm"}


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides a generated clip's pixels (part of the render cache key too)."""

    model: str
    prompt: str
    negative: str
    seed: int
    width: int  # requested size; the clip is rendered at the same aspect, scaled down
    height: int
    duration: int
    fps: int
    output_format: str = "MP4"
    with_audio: bool = False


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float
    frames: int


def render_size(width: int, height: int, max_side: int = MAX_RENDER_SIDE) -> tuple[int, int]:
    """The requested aspect at most `max_side` px on the long side, both sides even (for yuv420p)."""
    scale = min(1.0, max_side / max(width, height))
    return max(16, round(width * scale / 2) * 2), max(16, round(height * scale / 2) * 2)


def render_clip(spec: ClipSpec, first: Image.Image | None = None, last: Image.Image | None = None) -> bytes:
    """A moving pattern whose colours and paths derive from model, prompt, negative prompt and seed.

    A first (last) frame image opens (closes) the clip and fades into (out of) the pattern.
    """
    size = render_size(spec.width, spec.height)
    fps = min(spec.fps, MAX_RENDER_FPS)
    count = max(1, spec.duration * fps)
    frames = (_frame(spec, size, index / max(1, count - 1), index / fps, first, last) for index in range(count))
    pcm = None
    if spec.with_audio:
        pcm = audio.soundtrack(spec.model, spec.prompt, spec.seed, spec.duration)
    return encode(frames, fps, size, spec.output_format, pcm=pcm)


def _palette(spec: ClipSpec) -> tuple[list[tuple[int, int, int]], list[tuple[float, float, float, float]]]:
    rng = imaging._rng("video", spec.model, spec.prompt, spec.negative, spec.seed)
    hue = rng.random()
    colours = []
    for offset in (0.0, 0.33, 0.5, 0.66, 0.15):
        r, g, b = colorsys.hsv_to_rgb((hue + offset) % 1.0, 0.55 + rng.random() * 0.4, 0.5 + rng.random() * 0.5)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    paths = [(rng.uniform(0.5, 2.5), rng.uniform(0.5, 2.5), rng.random() * math.tau, rng.uniform(0.1, 0.2))
             for _ in range(3 + rng.randrange(3))]
    return colours, paths


def _frame(
    spec: ClipSpec,
    size: tuple[int, int],
    progress: float,
    seconds: float,
    first: Image.Image | None,
    last: Image.Image | None,
) -> Image.Image:
    width, height = size
    colours, paths = _palette(spec)
    image = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(image)
    top, bottom = colours[0], colours[1]
    for y in range(0, height, 4):  # a vertical gradient that drifts with time
        t = (y / height + progress * 0.5) % 1.0
        draw.rectangle((0, y, width, y + 4), fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    for index, (fx, fy, phase, radius) in enumerate(paths):
        angle = progress * math.tau
        cx = width * (0.5 + 0.35 * math.sin(fx * angle + phase))
        cy = height * (0.5 + 0.35 * math.cos(fy * angle + phase))
        r = radius * min(width, height)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colours[2 + index % 3])
    draw.rectangle((0, height - 4, int(width * progress), height), fill=(255, 255, 255))
    font = imaging._font(max(9, min(width, height) // 22))
    draw.text((4, 3), f"{seconds:4.2f}s · seed {spec.seed}", font=font, fill=(255, 255, 255))
    draw.text((4, height - 18), spec.prompt[:48], font=font, fill=(255, 255, 255))
    if first is not None and progress < 0.5:
        image = Image.blend(image, _cover(first, size), 1.0 - progress * 2)
    if last is not None and progress > 0.5:
        image = Image.blend(image, _cover(last, size), (progress - 0.5) * 2)
    return image


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return ImageOps.fit(image.convert("RGB"), size)


# ------------------------------------------------------------------------ encoding


def encode(
    frames: Iterable[Image.Image],
    fps: int | float,
    size: tuple[int, int],
    output_format: str,
    *,
    alpha: bool = False,
    pcm: audio.Pcm | None = None,
) -> bytes:
    """Encode RGB (or, with `alpha`, RGBA) frames; a temporary file lets MP4/MOV put the index first
    (`+faststart`), so a browser can start playing and seeking before the download ends."""
    ext, _, container = FORMATS[output_format]
    handle, path = tempfile.mkstemp(suffix=f".{ext}", prefix="runware-sim-")
    os.close(handle)
    try:
        options = {"movflags": "+faststart"} if container in ("mp4", "mov") else {}
        with av.open(path, "w", format=container, options=options) as output:
            stream = _video_stream(output, output_format, fps, size, alpha)
            sound = _audio_stream(output, output_format, pcm) if pcm is not None else None
            for frame in frames:
                picture = _picture(frame, alpha)
                output.mux(stream.encode(picture))
            output.mux(stream.encode(None))
            if sound is not None and pcm is not None:
                output.mux(sound.encode(audio.to_frame(pcm)))
                output.mux(sound.encode(None))
        with open(path, "rb") as result:
            return result.read()
    finally:
        os.unlink(path)


def _picture(image: Image.Image, alpha: bool) -> av.VideoFrame:
    """A frame for the encoder (`VideoFrame.from_image` would drop the alpha channel)."""
    if not alpha:
        return av.VideoFrame.from_image(image.convert("RGB"))
    rgba = image.convert("RGBA")
    return av.VideoFrame.from_bytes(rgba.tobytes(), rgba.width, rgba.height, format="rgba")


def _video_stream(output, output_format: str, fps: int | float, size: tuple[int, int], alpha: bool):  # type: ignore[no-untyped-def]
    rate = Fraction(fps).limit_denominator(1001)
    if output_format == "WEBM":
        stream = output.add_stream("libvpx-vp9", rate=rate)
        stream.pix_fmt = "yuva420p" if alpha else "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "36", "b:v": "0"}
    elif alpha:  # MOV with transparency
        stream = output.add_stream("qtrle", rate=rate)
        stream.pix_fmt = "argb"
    else:
        stream = output.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "26", "threads": "1"}
    stream.width, stream.height = size
    return stream


def _audio_stream(output, output_format: str, pcm: audio.Pcm):  # type: ignore[no-untyped-def]
    codec = "libopus" if output_format == "WEBM" else "aac"
    return output.add_stream(codec, rate=48000 if codec == "libopus" else pcm.rate, layout="mono")


# ------------------------------------------------------------------------ decoding


def probe(data: bytes) -> VideoInfo:
    """Size, frame rate, duration and frame count of a video; ValueError when it is none."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                raise ValueError("it has no video stream")
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            fps = float(stream.average_rate or stream.guessed_rate or 24)
            duration = float(container.duration / av.time_base) if container.duration else frames / fps
            return VideoInfo(stream.codec_context.width, stream.codec_context.height, fps, duration, frames)
    except av.FFmpegError as exc:
        raise ValueError(f"not a readable video ({exc.__class__.__name__})") from None


def frames(data: bytes) -> Iterator[Image.Image]:
    """Decoded frames as RGB(A) Pillow images, at most MAX_INPUT_FRAMES."""
    with av.open(io.BytesIO(data)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= MAX_INPUT_FRAMES:
                return
            yield frame.to_image()


def middle_frame(data: bytes, info: VideoInfo) -> Image.Image:
    target = info.frames // 2
    for index, image in enumerate(frames(data)):
        if index >= target:
            return image
    raise ValueError("the video has no frames")


def detect(data: bytes) -> tuple[str, str] | None:
    """(extension, MIME type) when `data` is a video PyAV can open, else None."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                return None
            names = container.format.name.split(",")
    except av.FFmpegError:
        return None
    if "mp4" in names:  # one demuxer reads both: the brand tells MP4 from QuickTime
        ext = "mov" if data[8:12] == b"qt  " else "mp4"
    else:
        ext = next((CONTAINER_EXTENSIONS[n] for n in names if n in CONTAINER_EXTENSIONS), "mp4")
    return ext, {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}[ext]
