"""The studio's forms. Field names are Runware's parameter names, so a valid form maps onto a task.

One `StudioForm` validates both transports: the JSON object the htmx ws extension sends over
`/ws/studio/` and the plain multipart POST of the no-JavaScript fallback. Nested Runware objects
are flattened with an underscore (`outpaint_top`, `refiner_model`), and the repeatable LoRA and
ControlNet rows use repeated names (`lora_model`, `lora_weight`, …), as in the studio URL contract.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import zip_longest
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from runware_web.lib import air

DEFAULT_MODEL = "runware:101@1"
MIN_SIDE, MAX_SIDE, SIDE_STEP = 128, 2048, 64
MAX_RESULTS = 20
MAX_LORAS = 5
MAX_CONTROLNETS = 4

# Width × height presets (multiples of 64, about one megapixel).
ASPECT_PRESETS = (
    ("1:1", 1024, 1024),
    ("4:3", 1152, 896),
    ("3:4", 896, 1152),
    ("3:2", 1216, 832),
    ("2:3", 832, 1216),
    ("16:9", 1344, 768),
    ("9:16", 768, 1344),
)

SCHEDULERS = (
    "Default", "Euler", "Euler a", "Euler Karras", "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE Karras",
    "DPM++ SDE", "DDIM", "LCM", "UniPC", "Heun", "LMS", "FlowMatchEulerDiscreteScheduler",
)


def validate_air(value: str) -> None:
    """Runware takes a model only by its AIR: refuse anything else here, beside the field."""
    if not air.is_air(value):
        raise ValidationError(f"Enter a model AIR, such as {air.EXAMPLE} (source:id@version).", code="invalid")


class AIRField(forms.CharField):
    default_validators = [validate_air]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("widget", forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}))
        super().__init__(**kwargs)


class SideField(forms.IntegerField):
    """A width or height in pixels: a multiple of 64 between 128 and 2048."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", MIN_SIDE)
        kwargs.setdefault("max_value", MAX_SIDE)
        kwargs.setdefault("widget", forms.NumberInput(attrs={"step": SIDE_STEP}))
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        """The whole rule in one message: the range first (suggesting a multiple of 64 far outside it
        helps nobody), then the step, with the two nearest sizes that are allowed."""
        super().validate(value)
        if value is None:
            return
        if not self.min_value <= value <= self.max_value:
            raise ValidationError(
                f"Use {self.min_value} to {self.max_value} pixels, in steps of {SIDE_STEP}.", code="range"
            )
        if value % SIDE_STEP:
            lower = value // SIDE_STEP * SIDE_STEP
            nearest = [side for side in (lower, lower + SIDE_STEP) if self.min_value <= side <= self.max_value]
            raise ValidationError(
                f"Use a multiple of {SIDE_STEP} pixels from {self.min_value} to {self.max_value}, "
                f"such as {' or '.join(map(str, nearest))}.",
                code="step",
            )


def outpaint_inner(side: int) -> int:
    """A seed image's side as the middle of an outpainted result: the nearest multiple of 64."""
    return max(SIDE_STEP, round(side / SIDE_STEP) * SIDE_STEP)


class ExtendField(forms.IntegerField):
    """Pixels to add on one side when outpainting (a multiple of 64, 0 for none)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            required=False, min_value=0, max_value=MAX_SIDE, widget=forms.NumberInput(attrs={"step": SIDE_STEP}),
            **kwargs,
        )

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and not 0 <= value <= self.max_value:
            raise ValidationError(f"Use 0 to {self.max_value} pixels, in steps of {SIDE_STEP}.", code="range")
        if value and value % SIDE_STEP:
            raise ValidationError(
                f"Use a multiple of {SIDE_STEP} pixels from 0 to {self.max_value}.", code="step"
            )


class StudioFields(forms.Form):
    """Renders every field with `aria-describedby` pointing at its error container."""

    error_id_suffix = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if not isinstance(field.widget, forms.HiddenInput):
                field.widget.attrs.setdefault("aria-describedby", self.error_id(name))

    def error_id(self, name: str) -> str:
        return f"errors-{self.add_prefix(name)}{self.error_id_suffix}"


PROMPT_LIMIT = 3000
PROMPT_TOO_LONG = "Shorten this to %(limit_value)s characters or fewer: it has %(show_value)s. Nothing was cut."


class GenerateForm(StudioFields):
    positivePrompt = forms.CharField(
        label="Prompt", min_length=2, max_length=PROMPT_LIMIT, error_messages={"max_length": PROMPT_TOO_LONG},
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A lighthouse at dusk, oil painting"}),
    )
    negativePrompt = forms.CharField(
        label="Negative prompt", required=False, max_length=PROMPT_LIMIT, error_messages={"max_length": PROMPT_TOO_LONG},
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "blurry, low quality"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("positivePrompt", "negativePrompt"):
            # No maxlength: the browser would cut a pasted prompt silently. The page says by the field
            # that it is too long (studio.js reads data-limit) and the server refuses it beside it.
            attrs = self.fields[name].widget.attrs
            attrs["data-limit"] = attrs.pop("maxlength", PROMPT_LIMIT)
    model = AIRField(label="Model", initial=DEFAULT_MODEL, help_text="An AIR: source:id@version.")
    width = SideField(label="Width", initial=1024)
    height = SideField(label="Height", initial=1024)
    numberResults = forms.IntegerField(label="Number of images", min_value=1, max_value=MAX_RESULTS, initial=1)

    steps = forms.IntegerField(label="Steps", required=False, min_value=1, max_value=100,
                               help_text="Blank means the model's default.")
    CFGScale = forms.FloatField(label="CFG scale", required=False, min_value=0, max_value=50,
                                widget=forms.NumberInput(attrs={"step": "0.5"}),
                                help_text="How closely to follow the prompt. Blank means the model's default.")
    scheduler = forms.ChoiceField(label="Scheduler", required=False,
                                  choices=[("", "Model default"), *((name, name) for name in SCHEDULERS)])
    seed = forms.IntegerField(label="Seed", required=False, min_value=1, max_value=9223372036854775807,
                              help_text="Blank means random. The same seed and settings give the same image.")
    clipSkip = forms.IntegerField(label="CLIP skip", required=False, min_value=0, max_value=2,
                                  help_text="Stable Diffusion models only.")
    outputFormat = forms.ChoiceField(label="Output format", required=False, initial="JPG",
                                     choices=[("JPG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WebP")])
    checkNSFW = forms.BooleanField(label="NSFW check", required=False,
                                   help_text="Flag images the safety checker considers not safe for work.")
    promptWeighting = forms.ChoiceField(label="Prompt weighting", required=False,
                                        choices=[("", "None"), ("compel", "Compel"), ("sdEmbeds", "sdEmbeds")])

    seedImage = forms.UUIDField(required=False, widget=forms.HiddenInput)
    strength = forms.FloatField(label="Strength", required=False, min_value=0, max_value=1, initial=0.8,
                                widget=forms.NumberInput(attrs={"step": "0.05"}),
                                help_text="0 keeps the seed image, 1 ignores it.")
    maskImage = forms.UUIDField(required=False, widget=forms.HiddenInput)
    outpaint_top = ExtendField(label="Extend top")
    outpaint_right = ExtendField(label="Extend right")
    outpaint_bottom = ExtendField(label="Extend bottom")
    outpaint_left = ExtendField(label="Extend left")
    outpaint_blur = forms.IntegerField(label="Edge blur", required=False, min_value=0, max_value=32,
                                       help_text="Blend the new edges over 0–32 pixels.")

    refiner_model = AIRField(label="Refiner model", required=False)
    refiner_startStep = forms.IntegerField(label="Refiner start step", required=False, min_value=1, max_value=100)

    OUTPAINT_SIDES = ("top", "right", "bottom", "left")
    ADVANCED = ("steps", "CFGScale", "scheduler", "seed", "clipSkip", "outputFormat", "checkNSFW", "promptWeighting")
    IMAGES = ("seedImage", "strength", "maskImage", "outpaint_top", "outpaint_right", "outpaint_bottom",
              "outpaint_left", "outpaint_blur")
    REFINER = ("refiner_model", "refiner_startStep")

    def section_in_use(self, names: Iterable[str]) -> bool:
        """Whether a folded section holds errors or values other than the defaults (then it opens)."""
        for name in names:
            if name in self.errors:
                return True
            value = self[name].value()
            if value not in (None, "", False) and str(value) != str(self.fields[name].initial or ""):
                return True
        return False

    def clean_positivePrompt(self) -> str:
        return self.cleaned_data["positivePrompt"].strip()

    def clean_outputFormat(self) -> str:
        return self.cleaned_data.get("outputFormat") or "JPG"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        seed_image = data.get("seedImage")
        if data.get("maskImage") and not seed_image:
            self.add_error("maskImage", "Inpainting repaints part of a seed image: add a seed image first.")
        if self.outpaint() and not seed_image:
            self.add_error("outpaint_top", "Outpainting extends a seed image: add a seed image first.")
        elif self.outpaint():
            # The result is the seed image plus the extension (`outpaint_size`): what the size fields
            # hold is not used, so it cannot be wrong.
            for name in ("width", "height"):
                self.errors.pop(name, None)
        steps = data.get("steps")
        start = data.get("refiner_startStep")
        if start and not data.get("refiner_model"):
            self.add_error("refiner_model", "Choose a refiner model, or clear the refiner start step.")
        if start and steps and start >= steps:
            self.add_error("refiner_startStep", f"Start the refiner before the last step (below {steps}).")
        return data

    def outpaint(self) -> dict[str, int]:
        sides = {side: self.cleaned_data.get(f"outpaint_{side}") or 0 for side in self.OUTPAINT_SIDES}
        return {side: value for side, value in sides.items() if value}

    def outpaint_size(self, seed_width: int, seed_height: int) -> tuple[int, int] | None:
        """The size of an outpainted result: the seed image (to the nearest multiple of 64) plus the
        extension, as Runware takes `width` and `height` when outpainting. None, with the error by
        the extension, when that is beyond the largest side."""
        sides = self.outpaint()
        inner = outpaint_inner(seed_width), outpaint_inner(seed_height)
        size = (inner[0] + sides.get("left", 0) + sides.get("right", 0),
                inner[1] + sides.get("top", 0) + sides.get("bottom", 0))
        for axis, (first, second) in enumerate((("left", "right"), ("top", "bottom"))):
            if size[axis] > MAX_SIDE:
                field = f"outpaint_{second if second in sides else first}"
                self.add_error(field, (
                    f"The seed image is {seed_width}×{seed_height}, so this extension makes the result "
                    f"{size[0]}×{size[1]}: over {MAX_SIDE} pixels. Extend {first} and {second} by "
                    f"{MAX_SIDE - inner[axis]} pixels at most in all."))
                return None
        if min(size) < MIN_SIDE:
            self.add_error("outpaint_top", f"The result would be {size[0]}×{size[1]}: extend it to at least "
                                           f"{MIN_SIDE} pixels each way.")
            return None
        return size


class RowForm(StudioFields):
    """One repeatable row; its inputs are named `<kind>_<field>` and numbered in the page."""

    kind = ""

    def __init__(self, *args: Any, index: int = 0, **kwargs: Any) -> None:
        self.index = index
        self.error_id_suffix = f"-{index}"
        kwargs.setdefault("auto_id", f"id_%s_{index}")
        super().__init__(*args, **kwargs)

    def add_prefix(self, field_name: str) -> str:
        return f"{self.kind}_{field_name}"

    #: The fields that, all left empty, make a row mean nothing (it is ignored, not refused).
    key_fields: tuple[str, ...] = ("model",)

    def is_blank(self) -> bool:
        return not any(str(self.data.get(self.add_prefix(name), "")).strip() for name in self.key_fields)


class LoraForm(RowForm):
    kind = "lora"

    model = AIRField(label="LoRA model")
    weight = forms.FloatField(label="LoRA weight", min_value=-4, max_value=4, initial=1,
                              widget=forms.NumberInput(attrs={"step": "0.05"}))

    def to_param(self) -> dict[str, Any]:
        return {"model": self.cleaned_data["model"], "weight": self.cleaned_data["weight"]}


class ControlNetForm(RowForm):
    kind = "controlnet"
    key_fields = ("model", "guide")

    guide = forms.UUIDField(label="Guide image", widget=forms.HiddenInput,
                            error_messages={"required": "Add a guide image (a preprocessed edge, depth or pose map)."})
    model = AIRField(label="ControlNet model")
    weight = forms.FloatField(label="ControlNet weight", required=False, min_value=0, max_value=1, initial=1,
                              widget=forms.NumberInput(attrs={"step": "0.05"}))
    start = forms.IntegerField(label="Start", required=False, min_value=0, max_value=100)
    end = forms.IntegerField(label="End", required=False, min_value=0, max_value=100)
    unit = forms.ChoiceField(label="Start and end in", initial="steps",
                             choices=[("steps", "Steps"), ("percent", "% of steps")])
    controlMode = forms.ChoiceField(label="Control mode", required=False,
                                    choices=[("", "Balanced"), ("prompt", "Prompt matters more"),
                                             ("controlnet", "ControlNet matters more")])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and start >= end:
            self.add_error("end", "End after the start.")
        return data

    def to_param(self, guide_image: str) -> dict[str, Any]:
        data = self.cleaned_data
        param: dict[str, Any] = {"model": data["model"], "guideImage": guide_image}
        if data.get("weight") is not None:
            param["weight"] = data["weight"]
        suffix = "Percentage" if data.get("unit") == "percent" else ""
        if data.get("start") is not None:
            param[f"startStep{suffix}"] = data["start"]
        if data.get("end") is not None:
            param[f"endStep{suffix}"] = data["end"]
        if data.get("controlMode"):
            param["controlMode"] = data["controlMode"]
        return param


def _rows(data: QueryDict, kind: str, fields: Iterable[str]) -> list[dict[str, str]]:
    names = [f"{kind}_{field}" for field in fields]
    columns = [data.getlist(name) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip_longest(*columns, fillvalue="")]


class StudioForm:
    """The whole studio request: the main form and its LoRA and ControlNet rows."""

    def __init__(self, data: QueryDict | None = None, *, initial: Mapping[str, Any] | None = None) -> None:
        self.is_bound = data is not None
        initial = dict(initial or {})
        if data is not None:
            self.main = GenerateForm(data)
            self.loras = [LoraForm(row, index=i) for i, row in enumerate(_rows(data, "lora", LoraForm.base_fields))]
            self.controlnets = [
                ControlNetForm(row, index=i)
                for i, row in enumerate(_rows(data, "controlnet", ControlNetForm.base_fields))
            ]
        else:
            self.main = GenerateForm(initial={k: v for k, v in initial.items() if k in GenerateForm.base_fields})
            self.loras = [LoraForm(initial=row, index=i) for i, row in enumerate(initial.get("loras", []))]
            self.controlnets = [
                ControlNetForm(initial=row, index=i) for i, row in enumerate(initial.get("controlnets", []))
            ]
        self.row_errors: list[str] = []

    @property
    def blank_lora(self) -> LoraForm:
        """The row the page clones when the member adds a LoRA (its index is filled in by studio.js)."""
        return LoraForm(index="__i__")  # type: ignore[arg-type]

    @property
    def blank_controlnet(self) -> ControlNetForm:
        return ControlNetForm(index="__i__")  # type: ignore[arg-type]

    @property
    def open_advanced(self) -> bool:
        return self.main.section_in_use(GenerateForm.ADVANCED)

    @property
    def open_images(self) -> bool:
        return self.main.section_in_use(GenerateForm.IMAGES)

    @property
    def open_refiner(self) -> bool:
        return self.main.section_in_use(GenerateForm.REFINER)

    @property
    def active_loras(self) -> list[LoraForm]:
        return [row for row in self.loras if not (self.is_bound and row.is_blank())]

    @property
    def active_controlnets(self) -> list[ControlNetForm]:
        return [row for row in self.controlnets if not (self.is_bound and row.is_blank())]

    def is_valid(self) -> bool:
        valid = self.main.is_valid()
        for row in [*self.active_loras, *self.active_controlnets]:
            valid = row.is_valid() and valid
        if len(self.active_loras) > MAX_LORAS:
            self.main.add_error(None, f"Use at most {MAX_LORAS} LoRA models at once.")
            valid = False
        if len(self.active_controlnets) > MAX_CONTROLNETS:
            self.main.add_error(None, f"Use at most {MAX_CONTROLNETS} ControlNets at once.")
            valid = False
        return valid

    def add_image_error(self, field: str, index: int | None, message: str) -> None:
        if index is None:
            self.main.add_error(field, message)
        else:
            self.controlnets[index].add_error("guide", message)

    @property
    def has_errors(self) -> bool:
        return bool(self.main.errors) or any(row.errors for row in [*self.loras, *self.controlnets])

    def errors_by_id(self) -> dict[str, list[str]]:
        """Every error container of the form (empty lists clear old messages), by element id."""
        errors: dict[str, list[str]] = {"form-errors": list(self.main.non_field_errors())}
        for form in [self.main, *self.loras, *self.controlnets]:
            for name in form.fields:
                errors[form.error_id(name)] = list(form.errors.get(name, [])) if form.is_bound else []
        return errors

    def summary(self) -> dict[str, list[str]]:
        """The errors that belong to no single field, for the box at the top of the form."""
        return {"form-errors": list(self.main.non_field_errors()) if self.is_bound else []}

    def error_count(self) -> int:
        return sum(len(messages) for key, messages in self.errors_by_id().items() if key != "form-errors")

    def settings(self) -> dict[str, Any]:
        """The cleaned values, named like the fields (and the URL contract), for "reuse"."""
        values: dict[str, Any] = {}
        for name, value in self.main.cleaned_data.items():
            if value not in (None, "", False):
                values[name] = str(value) if not isinstance(value, (int, float, bool, str)) else value
        if self.active_loras:
            values["loras"] = [dict(row.cleaned_data) for row in self.active_loras]
        if self.active_controlnets:
            values["controlnets"] = [
                {**row.cleaned_data, "guide": str(row.cleaned_data["guide"])} for row in self.active_controlnets
            ]
        return values

    def to_params(self, images: Mapping[str, str], size: tuple[int, int] | None = None) -> dict[str, Any]:
        """Runware's parameters. `images` maps a gallery image id to the data URI to send; `size` is
        the result's when it does not come from the form (outpainting: `GenerateForm.outpaint_size`)."""
        data = self.main.cleaned_data
        width, height = size or (data["width"], data["height"])
        params: dict[str, Any] = {
            "model": data["model"],
            "positivePrompt": data["positivePrompt"],
            "width": width,
            "height": height,
            "numberResults": data["numberResults"],
            "outputFormat": data["outputFormat"],
        }
        for name in ("negativePrompt", "steps", "CFGScale", "scheduler", "seed", "clipSkip", "promptWeighting"):
            if data.get(name) not in (None, ""):
                params[name] = data[name]
        if data.get("checkNSFW"):
            params["checkNSFW"] = True
        if data.get("seedImage"):
            params["seedImage"] = images[str(data["seedImage"])]
            if data.get("strength") is not None:
                params["strength"] = data["strength"]
            if data.get("maskImage"):
                params["maskImage"] = images[str(data["maskImage"])]
            if outpaint := self.main.outpaint():
                if data.get("outpaint_blur") is not None:
                    outpaint["blur"] = data["outpaint_blur"]
                params["outpaint"] = outpaint
        if self.active_loras:
            params["lora"] = [row.to_param() for row in self.active_loras]
        if self.active_controlnets:
            params["controlNet"] = [row.to_param(images[str(row.cleaned_data["guide"])])
                                    for row in self.active_controlnets]
        if data.get("refiner_model"):
            refiner: dict[str, Any] = {"model": data["refiner_model"]}
            if data.get("refiner_startStep"):
                refiner["startStep"] = data["refiner_startStep"]
            params["refiner"] = refiner
        return params

    def image_fields(self) -> list[tuple[str, int | None, Any]]:
        """(field, row index or None, image id) for every input image the request names."""
        found: list[tuple[str, int | None, Any]] = []
        for name in ("seedImage", "maskImage"):
            if value := self.main.cleaned_data.get(name):
                found.append((name, None, value))
        for row in self.active_controlnets:
            if value := row.cleaned_data.get("guide"):
                found.append(("controlnet_guide", row.index, value))
        return found


_PARAMETER_PATH = re.compile(r"^(?P<name>[A-Za-z]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<leaf>[A-Za-z]+))?$")
_ROW_KINDS = {"lora": "lora", "controlNet": "controlnet"}
_ROW_LEAVES = {"guideImage": "guide", "startStep": "start", "endStep": "end", "startStepPercentage": "start",
               "endStepPercentage": "end"}


def error_id_for_parameter(parameter: str) -> str | None:
    """The error container of the field a Runware error names (`lora[0].weight` → a LoRA row's weight)."""
    match = _PARAMETER_PATH.match(parameter or "")
    if not match:
        return None
    name, index, leaf = match["name"], match["index"], match["leaf"]
    if name in _ROW_KINDS:
        if index is None:
            return "form-errors"
        field = _ROW_LEAVES.get(leaf or "model", leaf or "model")
        return f"errors-{_ROW_KINDS[name]}_{field}-{index}"
    if name in {"outpaint", "refiner"} and leaf:
        candidate = f"{name}_{leaf}"
    else:
        candidate = name
    if candidate in GenerateForm.base_fields:
        return f"errors-{candidate}"
    return "form-errors"
