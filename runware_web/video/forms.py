"""The Video page's form: what a member may ask for, checked against the chosen model.

Text-to-video, or image-to-video from a first (and, where the model takes one, a last) frame picked
from the member's gallery or uploaded. Only the settings the chosen model takes are shown; the others
ride along hidden, so switching models back and forth loses nothing typed, and are not sent. A
duration, size or frame image the model does not take is refused next to its field, before anything
is sent (Runware would refuse it too, but only after the page had waited for it).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from runware_web.accounts.models import User, allowed_model_choices
from runware_web.live.reuse import stored_values
from runware_web.media.models import Image
from runware_web.media.refs import IMAGE_REF_PREFIX, image_ref
from runware_web.media.uploads import ImageUploadField
from runware_web.video.catalogue import (
    DEFAULT_MODEL,
    MODELS,
    VideoModel,
    durations_text,
    frames_text,
    sizes_text,
)

MAX_VIDEOS = 4
FRAME_PICKS = 24
#: Settings shown only when the chosen model takes them (catalogue.VideoModel.takes).
OPTIONAL = ("negativePrompt", "firstFrame", "lastFrame", "fps", "seed")
FRAMES = ("firstFrame", "lastFrame")


def _frame_label(image: Image) -> str:
    name = image.prompt or image.original_name or image.get_kind_display()
    if len(name) > 48:
        name = name[:47] + "…"
    return f"{name} ({image.width}×{image.height})"


class VideoForm(forms.Form):
    model = forms.ChoiceField(
        choices=[(air, model.label) for air, model in MODELS.items()], initial=DEFAULT_MODEL
    )
    positivePrompt = forms.CharField(
        label="Prompt",
        required=False,
        min_length=2,
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    negativePrompt = forms.CharField(
        label="Negative prompt",
        required=False,
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the video should not show.",
    )
    firstFrame = forms.UUIDField(
        label="First frame",
        required=False,
        widget=forms.Select,
        error_messages={"invalid": "Pick an image from the list."},
    )
    lastFrame = forms.UUIDField(
        label="Last frame",
        required=False,
        widget=forms.Select,
        error_messages={"invalid": "Pick an image from the list."},
    )
    duration = forms.IntegerField(
        label="Duration (seconds)", min_value=1, max_value=60, initial=MODELS[DEFAULT_MODEL].duration
    )
    width = forms.IntegerField(min_value=64, max_value=4096, initial=MODELS[DEFAULT_MODEL].size[0])
    height = forms.IntegerField(min_value=64, max_value=4096, initial=MODELS[DEFAULT_MODEL].size[1])
    fps = forms.IntegerField(label="Frames per second", required=False, min_value=1, max_value=120)
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, help_text="Leave empty for a random one."
    )
    numberResults = forms.IntegerField(label="Videos", min_value=1, max_value=MAX_VIDEOS, initial=1)

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["model"].choices = allowed_model_choices(user, self.fields["model"].choices)
        self.video_model = self._chosen_model()
        self.frames: dict[str, Image] = {}  # the frame images picked, once valid
        model = self.video_model
        self.fields["duration"].help_text = f"{durations_text(model)} seconds."
        self.fields["width"].help_text = f"With the height, one of {sizes_text(model)}."
        if model.fps is not None:
            self.fields["fps"].help_text = f"{model.fps[0]} to {model.fps[1]}; empty for {model.default_fps}."
        self.fields["positivePrompt"].help_text = (
            "Optional with a first frame: the video then starts from that picture."
            if model.frame_images
            else ""
        )
        self.picks = {str(image.pk): image for image in self._frame_picks()}
        choices = [("", "None")] + [(image_id, _frame_label(image)) for image_id, image in self.picks.items()]
        for name in FRAMES:
            self.fields[name].widget.choices = choices

    def _chosen_model(self) -> VideoModel:
        air = self.data.get("model") if self.is_bound else self.initial.get("model")
        return MODELS.get(str(air or ""), MODELS[DEFAULT_MODEL])

    def _frame_picks(self) -> list[Image]:
        """The member's recent images, and any picked one that is older."""
        if self.user is None:
            return []
        images = Image.objects.for_user(self.user).visible().filter(media_type=Image.MediaType.IMAGE)
        picks = list(images.order_by("-created_at")[:FRAME_PICKS])
        wanted = (
            {str(self[name].value() or "") for name in FRAMES} - {""} - {str(image.pk) for image in picks}
        )
        if wanted:
            try:
                picks += list(images.filter(pk__in=wanted))
            except ValidationError:  # a value that is not a UUID: the field says so
                pass
        return picks

    # ----------------------------------------------------------------- what is shown

    def shown(self) -> set[str]:
        """The fields the page shows for the chosen model (a picked frame stays shown, to be cleared)."""
        model = self.video_model
        names = {name for name in self.fields if name not in OPTIONAL or model.takes(name)}
        names |= {name for name in FRAMES if self[name].value()}
        return names

    @property
    def summary(self) -> str:
        """What the chosen model makes, in a sentence."""
        model = self.video_model
        source = f"from a prompt or from {frames_text(model)}" if model.frame_images else "from a prompt only"
        return (
            f"{model.name} makes videos of {durations_text(model)} seconds at {sizes_text(model)}, {source}."
        )

    @property
    def first_picked(self) -> Image | None:
        """The image the first frame names, for its preview (None when empty or not the member's)."""
        return self.picks.get(str(self["firstFrame"].value() or ""))

    @property
    def last_picked(self) -> Image | None:
        return self.picks.get(str(self["lastFrame"].value() or ""))

    # ----------------------------------------------------------------- checking

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        model = MODELS.get(data.get("model", ""))
        if model is None:
            return data
        duration = data.get("duration")
        if duration is not None and duration not in model.durations:
            self.add_error(
                "duration", f"{model.name} makes videos of {durations_text(model)} seconds, not {duration}."
            )
        width, height = data.get("width"), data.get("height")
        if width and height and (width, height) not in model.sizes:
            self.add_error(
                "width", f"{model.name} makes videos of {sizes_text(model)}, not {width}×{height}."
            )
        fps = data.get("fps")
        if model.fps is not None and fps is not None and not model.fps[0] <= fps <= model.fps[1]:
            self.add_error(
                "fps", f"{model.name} makes {model.fps[0]} to {model.fps[1]} frames per second, not {fps}."
            )
        self._clean_frames(model, data)
        if (
            not data.get("positivePrompt")
            and "firstFrame" not in self.frames
            and "positivePrompt" not in self.errors
        ):
            self.add_error(
                "positivePrompt",
                "Write a prompt, or pick a first frame to start the video from."
                if model.frame_images
                else "Write a prompt: what should the video show?",
            )
        return data

    def _clean_frames(self, model: VideoModel, data: dict[str, Any]) -> None:
        for name, position in zip(FRAMES, ("first", "last"), strict=True):
            value = data.get(name)
            if not value:
                continue
            if not model.takes(name):
                self.add_error(
                    name,
                    f"{model.name} takes {frames_text(model)}, not a {position} frame: "
                    f"choose None here, or pick a model that takes one.",
                )
                continue
            image = self._own_image(value)
            if image is None:
                self.add_error(
                    name, "That image is not in your gallery (it may have been deleted): pick another."
                )
            elif image.media_type != Image.MediaType.IMAGE:
                self.add_error(
                    name,
                    f"A {position} frame must be a picture, not a {image.get_media_type_display().lower()}.",
                )
            else:
                self.frames[name] = image
        if "lastFrame" in self.frames and not data.get("firstFrame"):
            self.add_error(
                "lastFrame", "A video that ends on a picture needs one to start from too: pick a first frame."
            )

    def _own_image(self, image_id: Any) -> Image | None:
        if self.user is None:
            return None
        return Image.objects.for_user(self.user).visible().filter(pk=image_id).first()

    # ----------------------------------------------------------------- what is sent

    def params(self) -> dict[str, Any]:
        """Runware's parameters for this request (the form must be valid): only what the model takes."""
        data = self.cleaned_data
        model = MODELS[data["model"]]
        params: dict[str, Any] = {
            "model": data["model"],
            "duration": data["duration"],
            "width": data["width"],
            "height": data["height"],
            "numberResults": data["numberResults"],
            "outputFormat": "MP4",
            "outputType": "URL",
        }
        if data.get("positivePrompt"):
            params["positivePrompt"] = data["positivePrompt"]
        if model.negative_prompt and data.get("negativePrompt"):
            params["negativePrompt"] = data["negativePrompt"]
        if model.fps is not None and data.get("fps") is not None:
            params["fps"] = data["fps"]
        if model.seed and data.get("seed") is not None:
            params["seed"] = data["seed"]
        frames = [
            {"image": image_ref(self.frames[name]), "frame": position}
            for name, position in zip(FRAMES, ("first", "last"), strict=True)
            if name in self.frames
        ]
        if frames:
            params["inputs"] = {"frameImages": frames}
        return params

    def errors_by_id(self) -> dict[str, list[str]]:
        """Every field's error box (empty for a valid field), by the id of its element."""
        return {f"errors-{name}": list(self.errors.get(name, [])) for name in self.fields}


def settings_of(video: Image) -> dict[str, Any]:
    """The form's values behind one of the member's videos, read from its task's stored parameters
    (frame images as gallery ids), with that video's seed: "reuse settings" on its gallery page."""
    task = video.task
    if task is None or task.task_type != "videoInference":  # uploaded, or made by a tool: no form behind it
        values = {"positivePrompt": video.prompt} if video.prompt else {}
        return values | ({"model": video.model} if video.model in MODELS else {})
    params = task.params or {}
    values = stored_values(params, ("model", "positivePrompt", "negativePrompt", "duration", "width", "height", "fps", "seed",
                     "numberResults"))
    frames = [frame for frame in (params.get("inputs") or {}).get("frameImages") or [] if isinstance(frame, dict)]
    for name, position in zip(FRAMES, ("first", "last"), strict=True):
        ref = next((frame.get("image") for frame in frames if frame.get("frame") == position), None)
        if isinstance(ref, str) and ref.startswith(IMAGE_REF_PREFIX):  # a frame the member had in the gallery
            values[name] = ref.removeprefix(IMAGE_REF_PREFIX)
    if video.seed is not None:
        values["seed"] = video.seed
    return values


class FrameUploadForm(forms.Form):
    """A picture uploaded to start or end a video on; it goes into the member's gallery as an upload."""

    firstFrameUpload = ImageUploadField(label="Upload a first frame", required=False)
    lastFrameUpload = ImageUploadField(label="Upload a last frame", required=False)
