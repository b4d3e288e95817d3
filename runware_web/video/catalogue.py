"""The video models a member may pick, with what each makes and which settings it takes.

Durations, sizes, frame rates and frame images as the simulator documents them (docs/simulator.md,
"Video, audio and 3D"), like the price table (money.prices.VIDEO_PRICES); which optional settings
a model takes (seed, negative prompt, fps) as runware-sdk 1.8.0's schema of that model has them
(`runware.types.task_map`; tests/video/test_catalogue.py holds the two together). The form shows
only what the chosen model takes, and refuses a duration, size or frame image it does not take
before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

Size = tuple[int, int]

_WIDE = ((1280, 720), (720, 1280), (1920, 1080), (1080, 1920))
_SEEDANCE = ((864, 480), (480, 864), (1280, 720), (720, 1280), (1920, 1080), (1080, 1920), (960, 960))
FRAME_POSITIONS = ("first", "last")


@dataclass(frozen=True)
class VideoModel:
    air: str
    name: str
    durations: tuple[int, ...]
    sizes: tuple[Size, ...]
    duration: int  # the default
    size: Size  # the default
    frame_images: int = 2  # 0: text only, 1: a first frame, 2: a first and a last frame
    seed: bool = False
    negative_prompt: bool = False
    fps: tuple[int, int] | None = None  # (low, high) when the model takes a frame rate
    default_fps: int = 24

    @property
    def label(self) -> str:
        return f"{self.name} ({self.air})"

    def takes(self, setting: str) -> bool:
        """Whether the model takes an optional setting (a form field name)."""
        return {
            "seed": self.seed,
            "negativePrompt": self.negative_prompt,
            "fps": self.fps is not None,
            "firstFrame": self.frame_images >= 1,
            "lastFrame": self.frame_images >= 2,
        }.get(setting, True)


MODELS: dict[str, VideoModel] = {
    model.air: model
    for model in (
        VideoModel(
            "bytedance:seedance@2.0-fast", "Seedance 2.0 Fast", tuple(range(4, 13)), _SEEDANCE, 5, (1280, 720)
        ),
        VideoModel(
            "lightricks:ltx@2.3-fast",
            "LTX 2.3 Fast",
            (6, 8, 10),
            ((1920, 1080), (1280, 720), (1080, 1920)),
            6,
            (1920, 1080),
            seed=True,
            fps=(24, 50),
            default_fps=25,
        ),
        VideoModel(
            "klingai:kling-video@3-standard",
            "Kling 3.0 Standard",
            (5, 10),
            ((1280, 720), (720, 1280), (720, 720)),
            5,
            (1280, 720),
            negative_prompt=True,
        ),
        VideoModel(
            "klingai:kling-video@3-pro",
            "Kling 3.0 Pro",
            (5, 10),
            ((1920, 1080), (1080, 1920), (1080, 1080)),
            5,
            (1920, 1080),
            negative_prompt=True,
        ),
        VideoModel(
            "google:veo@3.1-lite",
            "Veo 3.1 Lite",
            (4, 6, 8),
            ((1280, 720), (720, 1280)),
            8,
            (1280, 720),
            frame_images=1,
            seed=True,
        ),
        VideoModel("google:3@3", "Veo 3.1 Fast", (4, 6, 8), _WIDE, 8, (1280, 720), seed=True),
        VideoModel("google:3@2", "Veo 3.1", (4, 6, 8), _WIDE, 8, (1280, 720), seed=True),
        VideoModel("bytedance:seedance@2.0", "Seedance 2.0", tuple(range(4, 13)), _SEEDANCE, 5, (1280, 720)),
        VideoModel(
            "bytedance:2@1", "Seedance 1.0 Pro", tuple(range(3, 13)), _SEEDANCE, 5, (1280, 720), seed=True
        ),
        VideoModel(
            "minimax:4@1", "Hailuo 2.3", (6, 10), ((1366, 768), (1920, 1080)), 6, (1366, 768), frame_images=1
        ),
        VideoModel(
            "alibaba:wan@2.6", "Wan 2.6", (5, 10, 15), _WIDE, 5, (1280, 720), seed=True, negative_prompt=True
        ),
    )
}
DEFAULT_MODEL = "bytedance:seedance@2.0-fast"


def durations_text(model: VideoModel) -> str:
    values = model.durations
    if len(values) > 3 and values == tuple(range(values[0], values[-1] + 1)):
        return f"{values[0]} to {values[-1]}"
    return ", ".join(str(value) for value in values[:-1]) + f" or {values[-1]}"


def sizes_text(model: VideoModel) -> str:
    return ", ".join(f"{width}×{height}" for width, height in model.sizes)


def frames_text(model: VideoModel) -> str:
    return (
        "no frame images (text only)"
        if not model.frame_images
        else "a first frame only"
        if model.frame_images == 1
        else "a first and a last frame"
    )
