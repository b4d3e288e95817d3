"""What a task is, for a person, by its Runware task type: one map for every page."""

from __future__ import annotations

# Current task types first; the legacy names (still answered by Runware) share their labels.
LABELS = {
    "imageInference": "Image generation",
    "textInference": "Chat reply",
    "promptEnhance": "Prompt enhancement",
    "caption": "Caption",
    "upscale": "Upscale",
    "removeBackground": "Background removal",
    "controlNetPreprocess": "ControlNet guide",
    "imageMasking": "Mask",
    "videoInference": "Video",
    "audioInference": "Audio",
    "3dInference": "3D model",
}
LEGACY = {
    "imageCaption": "caption",
    "imageUpscale": "upscale",
    "imageBackgroundRemoval": "removeBackground",
    "imageControlNetPreProcess": "controlNetPreprocess",
}


# What one result of a task is called, where it is not an image.
RESULT_NOUNS = {"videoInference": ("video", "videos"), "audioInference": ("clip", "clips"), "3dInference": ("3D model", "3D models")}


def results_label(task_type: str, count: int) -> str:
    """"1 image", "3 videos", "2 clips"…: a task's saved results, named for what they are."""
    one, many = RESULT_NOUNS.get(current_type(task_type), ("image", "images"))
    return f"{count} {one if count == 1 else many}"


def current_type(task_type: str) -> str:
    """The current name of a task type (a legacy name as today's)."""
    return LEGACY.get(task_type, task_type)


def kind_label(task_type: str) -> str:
    """"Image generation", "Chat reply"…; an unknown task type as it is, "Other" for none."""
    return LABELS.get(current_type(task_type), task_type or "Other")


def aliases(task_type: str) -> list[str]:
    """Every name a kind of task is stored under: its current name and its legacy ones."""
    return [task_type, *(legacy for legacy, current in LEGACY.items() if current == task_type)]
