"""The 3D page's form: a model from a prompt, or from one of the member's images (made or uploaded,
an upload from the form's own upload field: ImageUploadForm), checked against the chosen model
before anything is sent."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from runware_web.accounts.models import User, allowed_model_choices
from runware_web.live.reuse import stored_values
from runware_web.media.models import Image
from runware_web.media.refs import IMAGE_REF_PREFIX, image_ref
from runware_web.media.uploads import ImageUploadField
from runware_web.threed.catalogue import DEFAULT_MODEL, MODELS

MAX_MODELS = 4
IMAGE_CHOICES = 40  # the member's newest images offered as a starting point


def starting_images(user: User, picked: Any = None) -> list[Image]:
    """The member's newest images (not videos, clips or models: made, uploaded or drawn) a 3D model
    may start from, and the one `picked` (an id) when it is theirs but older (an upload recognised
    as one made long ago)."""
    images = Image.objects.for_user(user).visible().filter(media_type=Image.MediaType.IMAGE)
    newest = list(images.order_by("-created_at", "-id")[:IMAGE_CHOICES])
    if picked and str(picked) not in {str(image.pk) for image in newest}:
        try:
            newest += list(images.filter(pk=picked))
        except ValidationError:  # not an id at all: the field refuses it as a choice
            pass
    return newest


class ThreeDForm(forms.Form):
    model = forms.ChoiceField(
        choices=[(air, model.label) for air, model in MODELS.items()], initial=DEFAULT_MODEL
    )
    positivePrompt = forms.CharField(
        label="Prompt",
        required=False,
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What to build; optional when you start from an image.",
    )
    image = forms.ChoiceField(
        label="Start from an image",
        required=False,
        help_text="One of your newest images: the model rebuilds what it shows.",
    )
    seed = forms.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, help_text="Leave empty for a random one."
    )
    numberResults = forms.IntegerField(label="Models", min_value=1, max_value=MAX_MODELS, initial=1)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = allowed_model_choices(user, self.fields["model"].choices)
        picked = self.data.get("image") if self.is_bound else self.initial.get("image")
        self.images = {str(image.pk): image for image in starting_images(user, picked)}
        self.fields["image"].choices = [("", "None: from the prompt")] + [
            (key, f"{image.summary} ({image.created_at:%d %b %H:%M})") for key, image in self.images.items()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        model = MODELS.get(data.get("model", ""))
        if model is None:
            return data
        prompt, image = data.get("positivePrompt", "").strip(), data.get("image")
        if model.needs_image and not image and "image" not in self.errors:
            self.add_error("image", f"{model.name} builds 3D from an image: choose one.")
        elif not image and len(prompt) < 2 and "positivePrompt" not in self.errors:
            self.add_error("positivePrompt", "Describe what to build, or start from an image.")
        return data

    def params(self) -> dict[str, Any]:
        """Runware's parameters for this request (the form must be valid). The image goes as a
        reference to the member's image, which the runner swaps for its bytes just before sending."""
        data = self.cleaned_data
        params: dict[str, Any] = {
            "model": data["model"],
            "numberResults": data["numberResults"],
            "outputFormat": "GLB",
            "outputType": "URL",
        }
        if data["positivePrompt"].strip():
            params["positivePrompt"] = data["positivePrompt"]
        if data.get("image"):
            params["inputs"] = {"image": image_ref(self.images[data["image"]])}
        if data.get("seed") is not None:
            params["seed"] = data["seed"]
        return params

    def errors_by_id(self) -> dict[str, list[str]]:
        """Every field's error box (empty for a valid field), by the id of its element."""
        return {f"errors-{name}": list(self.errors.get(name, [])) for name in self.fields}


def settings_of(mesh: Image) -> dict[str, Any]:
    """The form's values behind one of the member's 3D models, read from its task's stored parameters
    (the starting image as a gallery id, when it is still one of the member's images), with that
    model's seed: "reuse settings" on its gallery page."""
    task = mesh.task
    if task is None or task.task_type != "3dInference":  # uploaded, or made by a tool: no form behind it
        values = {"positivePrompt": mesh.prompt} if mesh.prompt else {}
        return values | ({"model": mesh.model} if mesh.model in MODELS else {})
    params = task.params or {}
    values = stored_values(params, ("model", "positivePrompt", "seed", "numberResults"))
    inputs = params.get("inputs")
    ref = inputs.get("image") if isinstance(inputs, dict) else None
    if isinstance(ref, str) and ref.startswith(IMAGE_REF_PREFIX):  # an image the member had in the gallery
        picked = ref.removeprefix(IMAGE_REF_PREFIX)
        if any(str(image.pk) == picked for image in starting_images(mesh.user, picked)):
            values["image"] = picked
    if mesh.seed is not None:
        values["seed"] = mesh.seed
    return values


class ImageUploadForm(forms.Form):
    """A picture uploaded to build a model from; it goes into the member's gallery as an upload."""

    imageUpload = ImageUploadField(label="Or upload an image", required=False)
