"""Audio for the simulator: speech, music and sound effects as 16-bit mono PCM, and their files.

The sounds are synthetic but show what was asked: speech is one tone burst per word (the
voice sets the pitch, the words the rhythm), music an arpeggio whose key, tempo and timbre
derive from model, prompt and seed, sound effects shaped noise. WAV is written with the
standard library; MP3, FLAC and OGG (Vorbis) with PyAV's bundled encoders. Waveforms are
built one cycle at a time and repeated, so minutes of audio take milliseconds.
"""

from __future__ import annotations

import array
import hashlib
import io
import math
import random
import re
import wave
from dataclasses import dataclass

import av

DEFAULT_SAMPLE_RATE = 24000
SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
SPEECH_SECONDS_PER_WORD = 0.36

# outputFormat → (extension, MIME type)
FORMATS: dict[str, tuple[str, str]] = {
    "MP3": ("mp3", "audio/mpeg"),
    "WAV": ("wav", "audio/wav"),
    "FLAC": ("flac", "audio/flac"),
    "OGG": ("ogg", "audio/ogg"),
}


@dataclass(frozen=True)
class Pcm:
    rate: int
    samples: array.array  # signed 16-bit, mono

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def _rng(*parts: object) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big"))


def _tone(frequency: float, seconds: float, rate: int, amplitude: int, timbre: float = 0.0) -> array.array:
    """A tone with short fades: one cycle computed, then repeated (C speed)."""
    period = max(2, round(rate / frequency))
    cycle = array.array(
        "h",
        (
            int(amplitude * ((1 - timbre) * math.sin(math.tau * k / period) + timbre * (2 * k / period - 1)))
            for k in range(period)
        ),
    )
    count = max(0, int(seconds * rate))
    samples = (cycle * (count // period + 1))[:count]
    fade = min(count // 4, rate // 100)
    for k in range(fade):
        samples[k] = samples[k] * k // fade
        samples[count - 1 - k] = samples[count - 1 - k] * k // fade
    return samples


def _silence(seconds: float, rate: int) -> array.array:
    return array.array("h", bytes(2 * int(seconds * rate)))


def _fit(samples: array.array, count: int) -> array.array:
    if len(samples) >= count:
        return samples[:count]
    return samples + array.array("h", bytes(2 * (count - len(samples))))


def speech(text: str, voice: str, model: str, seed: int, rate: int = DEFAULT_SAMPLE_RATE) -> Pcm:
    """One tone burst per word, pitched by the voice, with pauses at punctuation."""
    base = 110 + (int.from_bytes(hashlib.sha256(voice.encode()).digest()[:2], "big") % 160)
    rng = _rng("speech", model, voice, seed)
    samples = array.array("h")
    for word in re.findall(r"[\w'’-]+|[.,;:!?]", text) or ["…"]:
        if word in ".,;:!?":
            samples += _silence(0.25 if word in ".!?" else 0.12, rate)
            continue
        length = SPEECH_SECONDS_PER_WORD * (0.6 + min(len(word), 12) / 12)
        pitch = base * (1 + (sum(map(ord, word)) % 7) / 20) * (0.97 + rng.random() * 0.06)
        samples += _tone(pitch, length * 0.8, rate, 9000, timbre=0.2)
        samples += _silence(length * 0.2, rate)
    return Pcm(rate, samples)


def music(prompt: str, model: str, seed: int, seconds: float, rate: int = DEFAULT_SAMPLE_RATE) -> Pcm:
    """An arpeggio: key, scale, tempo and timbre come from a hash of model, prompt and seed."""
    rng = _rng("music", model, prompt, seed)
    root = 196 * 2 ** (rng.randrange(12) / 12)
    scale = (0, 2, 4, 7, 9, 12) if rng.random() < 0.5 else (0, 3, 5, 7, 10, 12)
    beat = 60 / rng.randrange(80, 140)
    timbre = rng.random() * 0.6
    samples = array.array("h")
    count = int(seconds * rate)
    while len(samples) < count:
        step = scale[rng.randrange(len(scale))]
        samples += _tone(root * 2 ** (step / 12), beat, rate, 8000, timbre)
    return Pcm(rate, samples[:count])


def sound_effect(prompt: str, model: str, seed: int, seconds: float, rate: int = DEFAULT_SAMPLE_RATE) -> Pcm:
    """Bursts of noise with a decaying envelope, their rhythm from the prompt and seed."""
    rng = _rng("sfx", model, prompt, seed)
    grain = array.array("h", (int(rng.uniform(-1, 1) * 7000) for _ in range(rate // 8)))
    samples = array.array("h")
    count = int(seconds * rate)
    while len(samples) < count:
        burst = grain * 2
        decay = rng.uniform(0.3, 1.0)
        for k in range(0, len(burst), 64):  # block-wise envelope: cheap and smooth enough
            gain = max(0.0, 1 - k / (len(burst) * decay))
            for j in range(k, min(k + 64, len(burst))):
                burst[j] = int(burst[j] * gain)
        samples += burst + _silence(rng.uniform(0.05, 0.4), rate)
    return Pcm(rate, samples[:count])


def soundtrack(model: str, prompt: str, seed: int, seconds: float) -> Pcm:
    """The sound track of a video from a model with native audio: quiet music."""
    return music(prompt, model, seed, seconds, DEFAULT_SAMPLE_RATE)


def fit_duration(pcm: Pcm, seconds: float) -> Pcm:
    return Pcm(pcm.rate, _fit(pcm.samples, int(seconds * pcm.rate)))


# ------------------------------------------------------------------------ encoding


def to_frame(pcm: Pcm) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm.samples))
    frame.planes[0].update(pcm.samples.tobytes())
    frame.sample_rate = pcm.rate
    frame.pts = 0
    return frame


def encode(pcm: Pcm, output_format: str) -> bytes:
    if output_format == "WAV":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(pcm.rate)
            writer.writeframes(pcm.samples.tobytes())
        return buffer.getvalue()
    buffer = io.BytesIO()
    container = {"MP3": "mp3", "FLAC": "flac", "OGG": "ogg"}[output_format]
    with av.open(buffer, "w", format=container) as output:
        if output_format == "OGG":  # FFmpeg's own Vorbis encoder: experimental, stereo only
            stream = output.add_stream("vorbis", rate=pcm.rate, layout="stereo")
            stream.codec_context.options = {"strict": "experimental"}
        else:
            stream = output.add_stream("libmp3lame" if output_format == "MP3" else "flac", rate=pcm.rate)
            stream.layout = "mono"
        output.mux(stream.encode(to_frame(pcm)))
        output.mux(stream.encode(None))
    return buffer.getvalue()
