"""The gallery's forms: filters that live in the URL, and the selection of images."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from runware_web.media.models import Image, ImageQuerySet

MAX_SELECTION = 200
#: The `kind` filter's two groups. Without a kind, the gallery shows what the portal made; what the
#: member gave it to work from (uploads, masks, guides) shows when asked for.
INPUTS = "inputs"
EVERYTHING = "all"


class GalleryFilterForm(forms.Form):
    """The gallery's filters, read from the query string so a filtered view can be bookmarked."""

    prompt = forms.CharField(
        label="Prompt contains", required=False, max_length=200, strip=True,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "lighthouse, dusk…"}),
    )
    model = forms.ChoiceField(label="Model", required=False)
    kind = forms.ChoiceField(label="Show", required=False, choices=[
        ("", "Results"), (INPUTS, "Inputs"), (EVERYTHING, "Everything"),
        *Image.Kind.choices,
    ])
    media = forms.ChoiceField(label="Type", required=False,
                              choices=[("", "Every type"), ("image", "Images"), ("video", "Videos"),
                                       ("audio", "Audio clips"), ("3d", "3D models")])
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    favourites = forms.BooleanField(label="Favourites only", required=False)
    task = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any = None, *, models: list[str] = (), **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        chosen = (data or {}).get("model") or ""
        known = list(models)
        if chosen and chosen not in known:
            known.append(chosen)  # a shared link may name a model this member has not used: keep it
        self.fields["model"].choices = [("", "Any model"), *[(air, air) for air in known]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "This date is before the “From” date: pick a later one.")
        return cleaned

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid one is shown with its error and left out)."""
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "", False)}


def apply_image_filters(images: ImageQuerySet, filters: dict[str, Any]) -> ImageQuerySet:
    if prompt := filters.get("prompt"):
        images = images.filter(prompt__icontains=prompt)
    if model := filters.get("model"):
        images = images.filter(model=model)
    kind = filters.get("kind")
    if kind == INPUTS:
        images = images.inputs()
    elif kind and kind != EVERYTHING:
        images = images.filter(kind=kind)
    elif not kind and not filters.get("task"):  # one task's images are all shown, whatever they are
        images = images.results()
    if media := filters.get("media"):
        images = images.filter(media_type=media)
    if since := filters.get("since"):
        images = images.filter(created_at__gte=start_of_day(since))
    if until := filters.get("until"):
        images = images.filter(created_at__lt=start_of_day(until + timedelta(days=1)))
    if filters.get("favourites"):
        images = images.filter(favourite=True)
    if task := filters.get("task"):
        images = images.filter(task_id=task)
    return images


def start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class UUIDListField(forms.Field):
    """Several image ids (checkboxes named `ids`)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[uuid.UUID]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        try:
            return list(dict.fromkeys(uuid.UUID(str(item)) for item in value))
        except ValueError:
            raise ValidationError("That selection names an image that does not exist.", code="invalid") from None

    def validate(self, value: list[uuid.UUID]) -> None:
        if not value:
            raise ValidationError("Select at least one image first.", code="required")
        if len(value) > MAX_SELECTION:
            raise ValidationError(
                f"{len(value)} images are selected; act on at most {MAX_SELECTION} at a time.", code="too_many"
            )


class SelectionForm(forms.Form):
    """Several of the member's images and what to do with them."""

    ACTIONS = {
        "favourite": "Favourite",
        "unfavourite": "Remove from favourites",
        "share": "Share with team",
        "unshare": "Stop sharing",
        "delete": "Delete",
        "restore": "Restore",
        "zip": "Download as zip",
    }

    ids = UUIDListField(label="Images")
    action = forms.ChoiceField(label="Action", choices=list(ACTIONS.items()))
