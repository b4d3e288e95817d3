"""The model search and the model picker: field names are Runware's `modelSearch` parameters."""

from __future__ import annotations

import re
from typing import Any

from django import forms

PAGE_SIZE = 24
PICKER_SIZE = 8
MAX_PAGE = 10_000
MAX_TAGS = 10

CATEGORIES = [
    ("", "Any category"),
    ("checkpoint", "Checkpoints"),
    ("lora", "LoRAs"),
    ("lycoris", "LyCORIS"),
    ("controlnet", "ControlNets"),
    ("vae", "VAEs"),
    ("embeddings", "Embeddings"),
]
ARCHITECTURES = [
    ("", "Any architecture"),
    ("flux1d", "FLUX.1 dev"),
    ("flux1s", "FLUX.1 schnell"),
    ("flux2", "FLUX.2"),
    ("sdxl", "SDXL"),
    ("sd1x", "SD 1.x"),
    ("sd3", "SD 3"),
    ("pony", "Pony"),
    ("illustrious", "Illustrious"),
]
TYPES = [("", "Any type"), ("base", "Base"), ("inpainting", "Inpainting"), ("refiner", "Refiner")]
SORTS = [
    ("", "Best match"),
    ("-popularity", "Most popular"),
    ("name", "Name, A to Z"),
    ("-addedUnixTimestamp", "Newest"),
    ("-updatedDateUnixTimestamp", "Recently updated"),
]


class FlagCheckbox(forms.CheckboxInput):
    """A checkbox that sends one Runware value when ticked (`source=official`), nothing otherwise."""

    def __init__(self, on_value: str, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, check_test=lambda value: value == on_value)
        self.on_value = on_value

    def format_value(self, value: Any) -> str:
        return self.on_value

    def value_from_datadict(self, data: Any, files: Any, name: str) -> str:
        return data.get(name) or ""


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class ModelSearchForm(forms.Form):
    """Validates `/models/?search=…&category=…&page=…`; `params()` is the `modelSearch` task."""

    search = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    category = forms.ChoiceField(label="Category", choices=CATEGORIES, required=False)
    architecture = forms.ChoiceField(label="Architecture", choices=ARCHITECTURES, required=False)
    type = forms.ChoiceField(label="Type", choices=TYPES, required=False, help_text="Only for checkpoints.")
    tags = forms.CharField(
        label="Tags",
        required=False,
        max_length=300,
        help_text="Separate with commas; a model must have every tag.",
        widget=forms.TextInput(attrs={"placeholder": "anime, portrait", "autocomplete": "off"}),
    )
    source = forms.ChoiceField(
        label="Featured only",
        choices=[("official", "Featured")],
        required=False,
        widget=FlagCheckbox("official"),
        help_text="Runware's own curated models (source: official).",
    )
    visibility = forms.ChoiceField(
        label="Only our team's models",
        choices=[("owned", "Our team's")],
        required=False,
        widget=FlagCheckbox("owned"),
        help_text="Models our Runware account uploaded (visibility: owned).",
    )
    sort = forms.ChoiceField(label="Sort by", choices=SORTS, required=False)
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            described_by = [f"id_{name}_helptext"] if field.help_text else []
            field.widget.attrs["aria-describedby"] = " ".join([*described_by, f"id_{name}_error"])

    def clean_search(self) -> str:
        return _tidy(self.cleaned_data["search"])

    def clean_tags(self) -> list[str]:
        tags = sorted({_tidy(tag).lower() for tag in self.cleaned_data["tags"].split(",") if tag.strip()})
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"Use at most {MAX_TAGS} tags.")
        return tags

    def clean_page(self) -> int:
        return self.cleaned_data["page"] or 1

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("type") and data.get("category") not in ("", "checkpoint"):
            self.add_error(
                "type", "Type applies to checkpoints only: set Category to Checkpoints, or Any type."
            )
        return data

    def params(self, *, limit: int = PAGE_SIZE) -> dict[str, Any]:
        """The `modelSearch` parameters, normalised so equal searches are equal dicts."""
        data = self.cleaned_data
        params: dict[str, Any] = {
            name: data[name]
            for name in ("search", "category", "architecture", "type", "tags", "source", "visibility", "sort")
            if data.get(name)
        }
        if "search" in params:
            params["search"] = params["search"].lower()
        if params.get("type") and not params.get("category"):
            params["category"] = "checkpoint"  # Runware only types checkpoints
        params["limit"] = limit
        params["offset"] = (data["page"] - 1) * limit
        return params


class ModelPickerForm(forms.Form):
    """The picker's input: what the member typed, or the AIR they picked."""

    model = forms.CharField(label="Model", required=False, max_length=200)

    def clean_model(self) -> str:
        return _tidy(self.cleaned_data["model"])
