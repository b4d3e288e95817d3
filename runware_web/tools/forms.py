"""The tools' forms. Field names are Runware's parameter names; each form turns its cleaned data
into the parameters of one task (`runware_params`). The same form validates a socket frame and a
plain POST.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from runware_web.accounts.models import allowed_model_choices
from runware_web.media.models import Image
from runware_web.media.uploads import ImageUploadField

ENHANCE_MODEL = "runware:llama-3-1-8b@prompt-enhancer"


class UploadForm(forms.Form):
    image = ImageUploadField(label="Image", help_text="PNG, JPEG or WebP.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["image"].help_text = (
            f"PNG, JPEG or WebP, up to {settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB "
            f"and {settings.UPLOAD_MAX_PIXELS / 1e6:.0f} megapixels."
        )


class EnhanceForm(forms.Form):
    prompt = forms.CharField(
        max_length=2000,
        error_messages={"required": "Write a prompt first, then enhance it."},
    )
    promptVersions = forms.IntegerField(
        label="Versions", min_value=1, max_value=5, initial=3,
        error_messages={"required": "Say how many versions you want (1 to 5)."},
    )
    promptMaxLength = forms.IntegerField(
        label="Maximum length", min_value=12, max_value=400, initial=300,
        help_text="Characters per version, 12 to 400.",
        error_messages={"required": "Give a maximum length (12 to 400 characters)."},
    )

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"].strip()
        if len(prompt) < 3:
            raise ValidationError("Write at least a few words to enhance.")
        return prompt

    def runware_params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "model": ENHANCE_MODEL,
            "prompt": data["prompt"],
            "promptVersions": data["promptVersions"],
            "promptMaxLength": data["promptMaxLength"],
        }


_VERSION_MARK = re.compile(r"^\s*(?:\d+\s*[.):-]|[-*•])\s*")


def split_versions(texts: list[str], wanted: int) -> list[str]:
    """The distinct prompt versions in the texts Runware returned.

    Runware sends one item per version, but the SDK may fold items without `resultIndex` into one
    (protocol reference §7.7), and a model may put several versions in one text (one per line,
    often numbered). When fewer items than versions arrived, a multi-line text is split up.
    """
    versions: list[str] = []
    for text in texts:
        parts = [text]
        if len(texts) < wanted:
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) > 1:
                parts = [_VERSION_MARK.sub("", line, count=1) for line in lines]
        for part in parts:
            part = part.strip()
            if part and part not in versions:
                versions.append(part)
    return versions[:wanted]


class ImageToolForm(forms.Form):
    """A tool that runs on one of the member's images; `image` is the image's UUID."""

    task_type: ClassVar[str] = ""
    title: ClassVar[str] = ""
    button: ClassVar[str] = ""
    working: ClassVar[str] = "Working…"

    image = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={"required": "Pick an image first.", "invalid": "Pick an image first."},
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.task_type}_%s")
        super().__init__(*args, **kwargs)
        model = self.fields.get("model")
        if user is not None and isinstance(model, forms.ChoiceField):
            # The picker offers only what the team's model rules allow (admission refuses the rest).
            model.choices = allowed_model_choices(user, list(model.choices))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # Optional settings left empty take their default, as Runware would.
        for name, field in self.fields.items():
            if not field.required and data.get(name) in (None, "") and field.initial is not None:
                data[name] = field.initial
        return data

    def check_image(self, image: Image) -> bool:
        """Checks that need the image itself; adds errors to the form. True when it can run."""
        return True

    def runware_params(self, image_input: str) -> dict[str, Any]:
        raise NotImplementedError


def _choices(options: dict[str, str]) -> list[tuple[str, str]]:
    return list(options.items())


CAPTION_MODELS = {
    "runware:150@2": "LLaVA 1.6 Mistral 7B (sentences)",
    "runware:152@2": "Qwen2.5-VL 7B (sentences)",
    "runware:152@1": "Qwen2.5-VL 3B (sentences, faster)",
    "runware:151@1": "CLIP ViT-L/14 (comma-separated tags)",
}
_TAG_ONLY_CAPTION_MODELS = {"runware:151@1"}


class CaptionForm(ImageToolForm):
    task_type = "caption"
    title = "Caption"
    button = "Caption"
    working = "Describing the image…"

    model = forms.ChoiceField(label="Model", choices=_choices(CAPTION_MODELS), initial="runware:150@2")
    prompt = forms.CharField(
        label="Question (optional)", required=False, min_length=2, max_length=500,
        help_text="Ask about something specific, e.g. “describe the lighting”.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("prompt") and data.get("model") in _TAG_ONLY_CAPTION_MODELS:
            self.add_error("prompt", "CLIP only lists tags and cannot answer a question: clear it, or pick LLaVA or Qwen.")
        return data

    def runware_params(self, image_input: str) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.cleaned_data["model"], "inputs": {"image": image_input}}
        if self.cleaned_data.get("prompt"):
            params["prompt"] = self.cleaned_data["prompt"]
        return params


# AIR → (name, the factors it accepts)
UPSCALE_MODELS: dict[str, tuple[str, tuple[int, ...]]] = {
    "runware:504@1": ("Real-ESRGAN", (2, 4)),
    "runware:503@1": ("SwinIR", (2, 4)),
    "runware:500@1": ("Clarity", (2, 3, 4)),
    "runware:501@1": ("CCSR", (2,)),
}
def _pixels(count: int) -> str:
    if count < 1_000_000:
        return f"{count:,} pixels"
    return f"{count / 1e6:.1f} megapixels".replace(".0 ", " ")


IMAGE_FORMATS = [("PNG", "PNG"), ("JPG", "JPEG"), ("WEBP", "WebP")]


class UpscaleForm(ImageToolForm):
    task_type = "upscale"
    title = "Upscale"
    button = "Upscale"
    working = "Upscaling…"

    model = forms.ChoiceField(
        label="Model",
        choices=[(air, f"{name} (×{', ×'.join(map(str, factors))})") for air, (name, factors) in UPSCALE_MODELS.items()],
        initial="runware:500@1",
    )
    upscaleFactor = forms.TypedChoiceField(
        label="Factor", choices=[(2, "2×"), (3, "3×"), (4, "4×")], coerce=int, initial=2,
    )
    outputFormat = forms.ChoiceField(label="Output format", choices=IMAGE_FORMATS, initial="PNG")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        model, factor = data.get("model"), data.get("upscaleFactor")
        if model and factor:
            name, factors = UPSCALE_MODELS[model]
            if factor not in factors:
                allowed = " or ".join(f"{f}×" for f in factors)
                self.add_error(
                    "upscaleFactor", f"{name} upscales by {allowed} only: pick that, or choose Clarity for any factor from 2× to 4×."
                )
        return data

    def check_image(self, image: Image) -> bool:
        factor = self.cleaned_data["upscaleFactor"]
        pixels = image.width * factor * image.height * factor
        if pixels > settings.UPLOAD_MAX_PIXELS:
            self.add_error(
                "upscaleFactor",
                f"Upscaling this {image.width}×{image.height} image by {factor} would make "
                f"{_pixels(pixels)}; the gallery keeps at most {_pixels(settings.UPLOAD_MAX_PIXELS)}. "
                "Pick a smaller factor.",
            )
            return False
        return True

    def runware_params(self, image_input: str) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "model": data["model"],
            "inputs": {"image": image_input},
            "upscaleFactor": data["upscaleFactor"],
            "outputFormat": data["outputFormat"],
        }


REMOVE_BACKGROUND_MODELS = {
    "runware:109@1": "RemBG 1.4 (all options)",
    "runware:112@5": "BiRefNet general",
    "runware:112@10": "BiRefNet portrait",
    "runware:112@9": "BiRefNet matting",
}
_MODELS_WITH_BACKGROUND_SETTINGS = {"runware:109@1"}
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ColourInput(forms.TextInput):
    input_type = "color"


class RemoveBackgroundForm(ImageToolForm):
    task_type = "removeBackground"
    title = "Remove background"
    button = "Remove background"
    working = "Removing the background…"

    model = forms.ChoiceField(label="Model", choices=_choices(REMOVE_BACKGROUND_MODELS), initial="runware:109@1")
    outputFormat = forms.ChoiceField(
        label="Output format", choices=[("PNG", "PNG"), ("WEBP", "WebP")], initial="PNG",
        help_text="Both keep transparency.",
    )
    rgba = forms.CharField(label="Background colour", initial="#ffffff", widget=ColourInput)
    rgbaAlpha = forms.IntegerField(
        label="Background opacity (%)", required=False, min_value=0, max_value=100, initial=0,
        help_text="0 leaves the background transparent; 100 fills it with the colour.",
    )
    returnOnlyMask = forms.BooleanField(label="Return only the mask", required=False)
    postProcessMask = forms.BooleanField(label="Smooth the mask edges", required=False)
    alphaMatting = forms.BooleanField(
        label="Alpha matting", required=False, help_text="Finer edges for hair and fur; slower."
    )
    alphaMattingForegroundThreshold = forms.IntegerField(
        label="Foreground threshold", required=False, min_value=1, max_value=255, initial=240,
    )
    alphaMattingBackgroundThreshold = forms.IntegerField(
        label="Background threshold", required=False, min_value=1, max_value=255, initial=10,
    )
    alphaMattingErodeSize = forms.IntegerField(label="Erode size", required=False, min_value=1, max_value=40, initial=10)

    def clean_rgba(self) -> str:
        colour = self.cleaned_data["rgba"].strip()
        if not _HEX_COLOUR.match(colour):
            raise ValidationError("Pick a colour (like #ffffff).")
        return colour.lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        fg, bg = data.get("alphaMattingForegroundThreshold"), data.get("alphaMattingBackgroundThreshold")
        if data.get("alphaMatting") and fg is not None and bg is not None and bg >= fg:
            self.add_error("alphaMattingBackgroundThreshold", "Must be lower than the foreground threshold.")
        if data.get("model") and data["model"] not in _MODELS_WITH_BACKGROUND_SETTINGS and self._custom_settings():
            self.add_error(
                "model",
                "Only RemBG 1.4 takes a background colour, alpha matting or mask options: pick it, "
                "or leave those options at their defaults.",
            )
        return data

    def _custom_settings(self) -> bool:
        data = self.cleaned_data
        return bool(
            data.get("rgbaAlpha") or data.get("returnOnlyMask") or data.get("postProcessMask") or data.get("alphaMatting")
        )

    def _rgba(self) -> list[int]:
        colour = self.cleaned_data["rgba"]
        # Runware's alpha is 0–1 (0 = transparent).
        alpha = Decimal(self.cleaned_data["rgbaAlpha"]) / 100
        return [int(colour[i : i + 2], 16) for i in (1, 3, 5)] + [int(alpha) if alpha in (0, 1) else float(alpha)]

    def runware_params(self, image_input: str) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {
            "model": data["model"],
            "inputs": {"image": image_input},
            "outputFormat": data["outputFormat"],
        }
        if data["model"] in _MODELS_WITH_BACKGROUND_SETTINGS:
            settings_: dict[str, Any] = {
                "rgba": self._rgba(),
                "returnOnlyMask": data["returnOnlyMask"],
                "postProcessMask": data["postProcessMask"],
                "alphaMatting": data["alphaMatting"],
            }
            if data["alphaMatting"]:
                settings_.update(
                    alphaMattingForegroundThreshold=data["alphaMattingForegroundThreshold"],
                    alphaMattingBackgroundThreshold=data["alphaMattingBackgroundThreshold"],
                    alphaMattingErodeSize=data["alphaMattingErodeSize"],
                )
            params["settings"] = settings_
        return params


PREPROCESSORS = {
    "canny": "Canny edges",
    "depth": "Depth map",
    "openpose": "OpenPose (body pose)",
    "mlsd": "MLSD (straight lines)",
    "normalbae": "Normal map (BAE)",
    "lineart": "Line art",
    "lineart-anime": "Line art (anime)",
    "softedge": "Soft edges",
    "scribble": "Scribble",
    "seg": "Segmentation",
    "tile": "Tile (blurred detail)",
    "shuffle": "Shuffle (colours and style)",
}
PREPROCESS_MODEL_PREFIX = "runware:controlnet-preprocess@"


class PreprocessForm(ImageToolForm):
    task_type = "controlNetPreprocess"
    title = "ControlNet guide"
    button = "Make guide"
    working = "Making the guide image…"

    model = forms.ChoiceField(
        label="Preprocessor",
        choices=[(PREPROCESS_MODEL_PREFIX + kind, name) for kind, name in PREPROCESSORS.items()],
        initial=PREPROCESS_MODEL_PREFIX + "canny",
    )
    lowThresholdCanny = forms.IntegerField(
        label="Low threshold (canny)", required=False, min_value=0, max_value=255, initial=100,
        help_text="Edges weaker than this are dropped.",
    )
    highThresholdCanny = forms.IntegerField(
        label="High threshold (canny)", required=False, min_value=0, max_value=255, initial=200,
        help_text="Edges stronger than this are always kept.",
    )
    includeHandsAndFaceOpenPose = forms.BooleanField(label="Include hands and face (openpose)", required=False)

    @property
    def kind(self) -> str:
        return self.cleaned_data["model"].removeprefix(PREPROCESS_MODEL_PREFIX)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("lowThresholdCanny"), data.get("highThresholdCanny")
        if data.get("model", "").endswith("@canny") and low is not None and high is not None and low >= high:
            self.add_error("lowThresholdCanny", "Must be lower than the high threshold.")
        return data

    def runware_params(self, image_input: str) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {"model": data["model"], "inputs": {"image": image_input}, "outputFormat": "PNG"}
        if self.kind == "canny":
            params["settings"] = {
                "lowThresholdCanny": data["lowThresholdCanny"],
                "highThresholdCanny": data["highThresholdCanny"],
            }
        elif self.kind == "openpose":
            params["settings"] = {"includeHandsAndFaceOpenPose": data["includeHandsAndFaceOpenPose"]}
        return params


MASK_MODELS = {
    "runware:35@1": "Face (YOLOv8n)",
    "runware:35@2": "Face (YOLOv8s, more accurate)",
    "runware:35@3": "Hands (YOLOv8n)",
    "runware:35@4": "Person (YOLOv8n segmentation)",
    "runware:35@5": "Person (YOLOv8s segmentation)",
    "runware:35@6": "Face (MediaPipe, full range)",
    "runware:35@7": "Face (MediaPipe, short range)",
    "runware:35@8": "Face mesh (MediaPipe)",
    "runware:35@9": "Eyes (MediaPipe face mesh)",
    "runware:35@14": "Lips (MediaPipe mesh)",
    "runware:35@13": "Nose (MediaPipe mesh)",
}


class MaskForm(ImageToolForm):
    task_type = "imageMasking"
    title = "Mask"
    button = "Detect mask"
    working = "Detecting…"

    model = forms.ChoiceField(label="Detect", choices=_choices(MASK_MODELS), initial="runware:35@1")
    confidence = forms.FloatField(
        label="Confidence", required=False, min_value=0.0, max_value=1.0, initial=0.25,
        help_text="0 to 1: detections less certain than this are ignored.",
    )
    maxDetections = forms.IntegerField(label="Most detections", required=False, min_value=1, max_value=20, initial=6)
    maskPadding = forms.IntegerField(
        label="Padding (px)", required=False, min_value=-100, max_value=100, initial=4, help_text="Grows (or shrinks) each region.",
    )
    maskBlur = forms.IntegerField(label="Blur (px)", required=False, min_value=0, max_value=100, initial=4)

    def runware_params(self, image_input: str) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "model": data["model"],
            "inputs": {"image": image_input},
            "outputFormat": "PNG",
            "settings": {
                "confidence": data["confidence"],
                "maxDetections": data["maxDetections"],
                "maskPadding": data["maskPadding"],
                "maskBlur": data["maskBlur"],
            },
        }


IMAGE_TOOLS: dict[str, type[ImageToolForm]] = {
    form.task_type: form for form in (CaptionForm, UpscaleForm, RemoveBackgroundForm, PreprocessForm, MaskForm)
}
