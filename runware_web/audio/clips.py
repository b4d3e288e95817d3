"""Reading an audio clip on disk: its length, and a picture of its waveform (the gallery's thumbnail).

PyAV decodes the clip (MP3, WAV, OGG or FLAC) resampled to 8 kHz mono 16-bit, a block at a time:
only the peaks of the waveform's columns are kept, so a long clip costs no more memory than a
short one.
"""

from __future__ import annotations

import array
from dataclasses import dataclass

import av
from PIL import Image as PILImage
from PIL import ImageDraw

WAVE_SIZE = (640, 240)  # the thumbnail's width and height
_RATE = 8000
_BACKGROUND = (24, 28, 38)
_WAVE = (92, 174, 255)
_AXIS = (60, 70, 90)


@dataclass(frozen=True)
class Clip:
    duration: float | None
    waveform: PILImage.Image


def read_clip(path: str) -> Clip:
    """The clip's duration and its waveform picture."""
    with av.open(path) as container:
        duration = container.duration / av.time_base if container.duration else None
        peaks = _peaks(container)
    if duration is None and peaks:
        duration = len(peaks) * 0.01
    return Clip(duration=duration, waveform=waveform(peaks))


def _peaks(container: av.container.InputContainer) -> list[int]:
    """The loudest sample of every 10 ms of the clip (0–32767)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=_RATE)
    window = _RATE // 100
    peaks: list[int] = []
    pending = array.array("h")
    for frame in container.decode(audio=0):
        for resampled in resampler.resample(frame):
            pending.frombytes(bytes(resampled.planes[0])[: resampled.samples * 2])
            whole = len(pending) // window * window
            peaks += [max(map(abs, pending[k : k + window])) for k in range(0, whole, window)]
            del pending[:whole]
    if pending:
        peaks.append(max(map(abs, pending)))
    return peaks


def waveform(peaks: list[int]) -> PILImage.Image:
    """Bars of the waveform's loudness across the picture, mirrored about its middle."""
    width, height = WAVE_SIZE
    picture = PILImage.new("RGB", WAVE_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(picture)
    middle = height // 2
    draw.line([(0, middle), (width, middle)], fill=_AXIS)
    bars = width // 4
    loudest = max(peaks, default=0) or 1
    for bar in range(bars):
        start, end = (
            bar * len(peaks) // bars,
            max(bar * len(peaks) // bars + 1, (bar + 1) * len(peaks) // bars),
        )
        level = max(peaks[start:end], default=0) / loudest
        half = max(1, round(level * (middle - 12)))
        x = bar * 4 + 1
        draw.rectangle([x, middle - half, x + 2, middle + half], fill=_WAVE)
    return picture
