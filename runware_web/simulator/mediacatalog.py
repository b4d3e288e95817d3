"""What each video, audio and 3D model accepts, how long it takes and what it costs.

A few well-known models have their own entry (the durations, sizes and voices their real
counterparts take); every other official model of the modality gets the modality's generic
entry, so each AIR of the SDK's registry runs. Latencies are nominal seconds per task; the
simulator multiplies them by its `media_latency_scale` (0 in tests). Prices are USD, Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# --------------------------------------------------------------------------- video


@dataclass(frozen=True)
class VideoSpec:
    """`durations` lists the exact lengths a model takes; empty means any whole second in `duration_range`.
    `sizes` lists the exact width×height pairs; empty means multiples of 8 in `size_range` on each side.
    `fps` is None for a model with a fixed frame rate (then `fps` is refused), else (low, high)."""

    price_per_second: Decimal
    latency: float
    default_duration: int = 5
    durations: tuple[int, ...] = ()
    duration_range: tuple[int, int] = (1, 10)
    sizes: tuple[tuple[int, int], ...] = ()
    size_range: tuple[int, int] = (256, 1920)
    default_size: tuple[int, int] = (1280, 720)
    fps: tuple[int, int] | None = None
    default_fps: int = 24
    frame_images: int = 2  # 0: text only, 1: first frame, 2: first and last
    native_audio: bool = False  # the MP4 carries a sound track


_LANDSCAPE_HD = ((1920, 1080), (1080, 1920), (1080, 1080))
_HD = ((1280, 720), (720, 1280), (1920, 1080), (1080, 1920))
_SEEDANCE = ((864, 480), (480, 864), (1280, 720), (720, 1280), (1920, 1080), (1080, 1920), (960, 960))

VIDEO_MODELS: dict[str, VideoSpec] = {
    "klingai:kling-video@3-pro": VideoSpec(
        Decimal("0.098"), 20, 5, durations=(5, 10), sizes=_LANDSCAPE_HD, default_size=(1920, 1080)
    ),
    "klingai:kling-video@3-standard": VideoSpec(
        Decimal("0.056"), 12, 5, durations=(5, 10), sizes=((1280, 720), (720, 1280), (720, 720))
    ),
    "google:3@2": VideoSpec(  # Veo 3.1
        Decimal("0.40"), 25, 8, durations=(4, 6, 8), sizes=_HD, native_audio=True
    ),
    "google:3@3": VideoSpec(  # Veo 3.1 Fast
        Decimal("0.15"), 12, 8, durations=(4, 6, 8), sizes=_HD, native_audio=True
    ),
    "google:veo@3.1-lite": VideoSpec(
        Decimal("0.08"), 8, 8, durations=(4, 6, 8), sizes=((1280, 720), (720, 1280)), frame_images=1
    ),
    "bytedance:seedance@2.0": VideoSpec(
        Decimal("0.06"), 15, 5, duration_range=(4, 12), sizes=_SEEDANCE, native_audio=True
    ),
    "bytedance:seedance@2.0-fast": VideoSpec(
        Decimal("0.03"), 6, 5, duration_range=(4, 12), sizes=_SEEDANCE
    ),
    "bytedance:2@1": VideoSpec(  # Seedance 1.0 Pro
        Decimal("0.05"), 12, 5, duration_range=(3, 12), sizes=_SEEDANCE
    ),
    "minimax:4@1": VideoSpec(  # Hailuo 2.3
        Decimal("0.045"), 14, 6, durations=(6, 10), sizes=((1366, 768), (1920, 1080)),
        default_size=(1366, 768), frame_images=1,
    ),
    "lightricks:ltx@2.3-fast": VideoSpec(
        Decimal("0.02"), 4, 6, durations=(6, 8, 10), sizes=((1920, 1080), (1280, 720), (1080, 1920)),
        default_size=(1920, 1080), fps=(24, 50), default_fps=25, native_audio=True,
    ),
    "alibaba:wan@2.6": VideoSpec(
        Decimal("0.05"), 10, 5, durations=(5, 10, 15), sizes=_HD, native_audio=True
    ),
}
GENERIC_VIDEO = VideoSpec(Decimal("0.05"), 10, 5, fps=(8, 60))

# ---------------------------------------------------------------------------- audio


@dataclass(frozen=True)
class AudioSpec:
    """`kind`: "speech" (text-to-speech with `speech: {text, voice}`; `voices` empty = the voice is
    designed from a description), "music" or "sfx" (from `positivePrompt` and `duration`).
    Speech is priced per 1000 characters of text, music and sound per second."""

    kind: str
    price: Decimal
    latency: float
    voices: tuple[str, ...] = ()
    duration_range: tuple[int, int] = (1, 300)
    default_duration: int = 30


_GENERIC_VOICES = ("alloy", "echo", "fable", "nova", "onyx", "shimmer")

AUDIO_MODELS: dict[str, AudioSpec] = {
    "minimax:speech@2.8": AudioSpec(
        "speech", Decimal("0.06"), 2,
        ("English_CalmWoman", "English_Trustworthy_Man", "English_Graceful_Lady", "English_ManWithDeepVoice"),
    ),
    "elevenlabs:25@1": AudioSpec("speech", Decimal("0.05"), 1, ("Rachel", "Adam", "Bella", "Antoni")),
    "inworld:tts@2": AudioSpec("speech", Decimal("0.01"), 1, ("Ashley", "Dennis", "Alex", "Olivia")),
    "xai:tts@0": AudioSpec("speech", Decimal("0.015"), 1, ("Ara", "Rex", "Sal", "Eve")),
    "google:gemini@3.1-flash-tts": AudioSpec("speech", Decimal("0.02"), 2, ("Kore", "Puck", "Charon", "Aoede")),
    "alibaba:qwen@3-tts-1.7b-customvoice": AudioSpec(
        "speech", Decimal("0.008"), 2, ("Vivian", "Ryan", "Serena", "Dylan")
    ),
    "alibaba:qwen@3-tts-1.7b-voicedesign": AudioSpec("speech", Decimal("0.01"), 3, ()),
    "minimax:music@2.6": AudioSpec("music", Decimal("0.001"), 6, duration_range=(5, 240), default_duration=60),
    "elevenlabs:1@1": AudioSpec("music", Decimal("0.002"), 4, duration_range=(1, 300), default_duration=30),
    "runware:ace-step@v1.5-turbo": AudioSpec(
        "music", Decimal("0.0002"), 3, duration_range=(5, 240), default_duration=30
    ),
    "mirelo:1@1": AudioSpec("sfx", Decimal("0.001"), 2, duration_range=(1, 30), default_duration=10),
}
GENERIC_SPEECH = AudioSpec("speech", Decimal("0.03"), 2, _GENERIC_VOICES)
GENERIC_MUSIC = AudioSpec("music", Decimal("0.001"), 4, duration_range=(5, 240), default_duration=30)
GENERIC_SFX = AudioSpec("sfx", Decimal("0.001"), 2, duration_range=(1, 30), default_duration=10)

# Models Runware documents that the SDK's bundled registry lacks: (AIR, id, task type).
EXTRA_OFFICIAL_MODELS: tuple[tuple[str, str, str], ...] = (
    ("elevenlabs:1@1", "elevenlabs-music", "audioInference"),
    ("elevenlabs:25@1", "elevenlabs-turbo-v2-5", "audioInference"),
)

# ------------------------------------------------------------------------------- 3D


@dataclass(frozen=True)
class ThreeDSpec:
    """`inputs`: what a model builds from ("text", "image"); `needs_mask`: SAM-style segmentation input."""

    price: Decimal
    latency: float
    inputs: frozenset[str] = field(default_factory=lambda: frozenset({"text", "image"}))
    needs_mask: bool = False


_IMAGE_ONLY = frozenset({"image"})
THREE_D_MODELS: dict[str, ThreeDSpec] = {
    "tencent:hunyuan-3d@3.1-rapid": ThreeDSpec(Decimal("0.10"), 8),
    "tencent:hunyuan-3d@3.1-pro": ThreeDSpec(Decimal("0.30"), 20),
    "microsoft:trellis-2@4b": ThreeDSpec(Decimal("0.0256"), 10, _IMAGE_ONLY),
    "meta:sam@3d": ThreeDSpec(Decimal("0.05"), 10, _IMAGE_ONLY, needs_mask=True),
    "hyper3d:rodin@gen-2": ThreeDSpec(Decimal("0.40"), 25),
    "meshy:meshy@6": ThreeDSpec(Decimal("0.20"), 20),
    "tripo:v3.1@0": ThreeDSpec(Decimal("0.20"), 15),
}
GENERIC_3D = ThreeDSpec(Decimal("0.20"), 15)

# ------------------------------------------------------------------ video utilities


@dataclass(frozen=True)
class VideoToolSpec:
    """A caption, upscale or background-removal model that takes `inputs.video`; priced per second."""

    price_per_second: Decimal
    latency: float


VIDEO_CAPTION_MODELS: dict[str, VideoToolSpec] = {
    "runware:152@1": VideoToolSpec(Decimal("0.0005"), 2),
    "runware:152@2": VideoToolSpec(Decimal("0.001"), 3),
}
VIDEO_UPSCALE_MODELS: dict[str, VideoToolSpec] = {
    "bfl:flux@video-upscale": VideoToolSpec(Decimal("0.03"), 10),
    "bria:50@1": VideoToolSpec(Decimal("0.02"), 8),
    "bytedance:50@1": VideoToolSpec(Decimal("0.02"), 8),
    "bytedance:video-enhancement@standard": VideoToolSpec(Decimal("0.015"), 6),
    "bytedance:video-enhancement@pro": VideoToolSpec(Decimal("0.04"), 12),
    "topazlabs:proteus@4": VideoToolSpec(Decimal("0.05"), 12),
    "topazlabs:starlight-precise@2.5": VideoToolSpec(Decimal("0.08"), 20),
}
VIDEO_BACKGROUND_MODELS: dict[str, VideoToolSpec] = {
    "bria:51@1": VideoToolSpec(Decimal("0.01"), 6),
}


def video_spec(air: str) -> VideoSpec:
    return VIDEO_MODELS.get(air, GENERIC_VIDEO)


def audio_spec(air: str) -> AudioSpec:
    spec = AUDIO_MODELS.get(air)
    if spec is not None:
        return spec
    name = air.lower()
    if any(word in name for word in ("music", "ace-step", "seed-audio")):
        return GENERIC_MUSIC
    if "sfx" in name or name.startswith("mirelo"):
        return GENERIC_SFX
    return GENERIC_SPEECH


def three_d_spec(air: str) -> ThreeDSpec:
    return THREE_D_MODELS.get(air, GENERIC_3D)
