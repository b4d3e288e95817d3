"""The Video page's form: what a member may ask for, checked against the chosen model.

A duration or size the model does not make is refused next to its field, before anything is sent
(Runware would refuse it too, but only after the page had waited for it).
"""

from __future__ import annotations

from typing import Any

from django import forms

from runware_web.video.catalogue import DEFAULT_MODEL, MODELS, durations_text, sizes_text

MAX_VIDEOS = 4


class VideoForm(forms.Form):
    model = forms.ChoiceField(choices=[(air, model.label) for air, model in MODELS.items()], initial=DEFAULT_MODEL)
    positivePrompt = forms.CharField(label="Prompt", min_length=2, max_length=3000,
                                     widget=forms.Textarea(attrs={"rows": 3}))
    duration = forms.IntegerField(label="Duration (seconds)", min_value=1, max_value=60,
                                  initial=MODELS[DEFAULT_MODEL].duration)
    width = forms.IntegerField(min_value=64, max_value=4096, initial=MODELS[DEFAULT_MODEL].size[0])
    height = forms.IntegerField(min_value=64, max_value=4096, initial=MODELS[DEFAULT_MODEL].size[1])
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1,
                              help_text="Leave empty for a random one.")
    numberResults = forms.IntegerField(label="Videos", min_value=1, max_value=MAX_VIDEOS, initial=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        model = MODELS.get(data.get("model", ""))
        if model is None:
            return data
        duration = data.get("duration")
        if duration is not None and duration not in model.durations:
            self.add_error("duration", f"{model.name} makes videos of {durations_text(model)} seconds, "
                                       f"not {duration}.")
        width, height = data.get("width"), data.get("height")
        if width and height and (width, height) not in model.sizes:
            self.add_error("width", f"{model.name} makes videos of {sizes_text(model)}, not {width}×{height}.")
        return data

    def params(self) -> dict[str, Any]:
        """Runware's parameters for this request (the form must be valid)."""
        data = self.cleaned_data
        params = {
            "model": data["model"],
            "positivePrompt": data["positivePrompt"],
            "duration": data["duration"],
            "width": data["width"],
            "height": data["height"],
            "numberResults": data["numberResults"],
            "outputFormat": "MP4",
            "outputType": "URL",
        }
        if data.get("seed") is not None:
            params["seed"] = data["seed"]
        return params

    def errors_by_id(self) -> dict[str, list[str]]:
        """Every field's error box (empty for a valid field), by the id of its element."""
        return {f"errors-{name}": list(self.errors.get(name, [])) for name in self.fields}
