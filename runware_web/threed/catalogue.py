"""The 3D models a member may pick, and what each builds from (a prompt, an image, or either).

As the simulator documents them (docs/simulator.md, "Video, audio and 3D"), like the price table
(money.prices.THREE_D_PRICES). SAM 3D, which needs a mask of the object besides the image, is not
offered: the page has no way to paint one.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT, IMAGE = "text", "image"


@dataclass(frozen=True)
class ThreeDModel:
    air: str
    name: str
    builds_from: frozenset[str] = frozenset({TEXT, IMAGE})

    @property
    def label(self) -> str:
        return f"{self.name} ({self.air})"

    @property
    def needs_image(self) -> bool:
        return TEXT not in self.builds_from

    @property
    def summary(self) -> str:
        return "an image" if self.needs_image else "a prompt or an image"


MODELS: dict[str, ThreeDModel] = {
    model.air: model
    for model in (
        ThreeDModel("tencent:hunyuan-3d@3.1-rapid", "Hunyuan3D 3.1 Rapid"),
        ThreeDModel("tencent:hunyuan-3d@3.1-pro", "Hunyuan3D 3.1 Pro"),
        ThreeDModel("microsoft:trellis-2@4b", "TRELLIS 2", frozenset({IMAGE})),
        ThreeDModel("tripo:v3.1@0", "Tripo 3.1"),
        ThreeDModel("meshy:meshy@6", "Meshy 6"),
        ThreeDModel("hyper3d:rodin@gen-2", "Rodin Gen-2"),
    )
}
DEFAULT_MODEL = "tencent:hunyuan-3d@3.1-rapid"
