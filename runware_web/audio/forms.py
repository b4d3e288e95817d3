"""The Audio page's form: speech from text in a chosen or designed voice, or music or sound from a
prompt, checked against the chosen model.

A voice the model does not have, or a length it does not make, is refused next to its field before
anything is sent (Runware would refuse it too, but only after the page had waited for it).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms

from runware_web.accounts.models import allowed_model_choices
from runware_web.audio.catalogue import DEFAULT_MODEL, FORMATS, MODELS, SPEECH, AudioModel
from runware_web.live.reuse import stored_values
from runware_web.media.models import Image

MAX_CLIPS = 4
MAX_TEXT = 5000


def _voice_choices() -> list[tuple[str, Any]]:
    """Every model's voices, grouped by model (the page shows the chosen model's group)."""
    groups: list[tuple[str, Any]] = [("", "Choose a voice")]
    for model in MODELS.values():
        if model.voices:
            groups.append((model.name, [(voice, voice.replace("_", " ")) for voice in model.voices]))
    return groups


class AudioForm(forms.Form):
    model = forms.ChoiceField(
        choices=[(air, model.label) for air, model in MODELS.items()], initial=DEFAULT_MODEL
    )
    text = forms.CharField(
        label="Text to speak", required=False, max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 4})
    )
    voice = forms.ChoiceField(
        label="Voice", required=False, choices=_voice_choices, initial=MODELS[DEFAULT_MODEL].voices[0]
    )
    voiceDescription = forms.CharField(
        label="Describe the voice",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For a model that designs its voice: who speaks, and how.",
    )
    positivePrompt = forms.CharField(
        label="Describe the sound", required=False, max_length=3000, widget=forms.Textarea(attrs={"rows": 3})
    )
    duration = forms.IntegerField(label="Duration (seconds)", required=False, min_value=1, max_value=300)
    outputFormat = forms.ChoiceField(
        label="Format", choices=[(name, name) for name in FORMATS], initial="MP3"
    )
    seed = forms.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, help_text="Leave empty for a random one."
    )
    numberResults = forms.IntegerField(label="Clips", min_value=1, max_value=MAX_CLIPS, initial=1)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None:  # the picker offers only what the team's model rules allow (read when shown)
            offered = list(self.fields["model"].choices)
            self.fields["model"].choices = partial(allowed_model_choices, user, offered)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        model = MODELS.get(data.get("model", ""))
        if model is None:
            return data
        if model.kind == SPEECH:
            self._clean_speech(model, data)
        else:
            self._clean_sound(model, data)
        return data

    def _clean_speech(self, model: AudioModel, data: dict[str, Any]) -> None:
        if len(data.get("text", "").strip()) < 1 and "text" not in self.errors:
            self.add_error("text", "Write what the voice should say.")
        if model.designs_voice:
            if len(data.get("voiceDescription", "").strip()) < 2 and "voiceDescription" not in self.errors:
                self.add_error("voiceDescription", f"{model.name} designs its voice: describe who speaks.")
        elif data.get("voice") not in model.voices and "voice" not in self.errors:
            voices = ", ".join(voice.replace("_", " ") for voice in model.voices)
            self.add_error("voice", f"{model.name} speaks as {voices}: choose one of them.")

    def _clean_sound(self, model: AudioModel, data: dict[str, Any]) -> None:
        if len(data.get("positivePrompt", "").strip()) < 2 and "positivePrompt" not in self.errors:
            self.add_error("positivePrompt", "Describe the music or sound to make.")
        duration = data.get("duration")
        low, high = model.durations
        if duration is None and "duration" not in self.errors:
            data["duration"] = model.duration
        elif duration is not None and not low <= duration <= high:
            self.add_error("duration", f"{model.name} makes {low} to {high} seconds, not {duration}.")

    def params(self) -> dict[str, Any]:
        """Runware's parameters for this request (the form must be valid)."""
        data = self.cleaned_data
        model = MODELS[data["model"]]
        params: dict[str, Any] = {
            "model": model.air,
            "numberResults": data["numberResults"],
            "outputFormat": data["outputFormat"],
            "outputType": "URL",
        }
        if model.kind == SPEECH:
            voice = data["voiceDescription"].strip() if model.designs_voice else data["voice"]
            params["speech"] = {"text": data["text"], "voice": voice}
        else:
            params["positivePrompt"] = data["positivePrompt"]
            params["duration"] = data["duration"]
        if data.get("seed") is not None:
            params["seed"] = data["seed"]
        return params

    def errors_by_id(self) -> dict[str, list[str]]:
        """Every field's error box (empty for a valid field), by the id of its element."""
        return {f"errors-{name}": list(self.errors.get(name, [])) for name in self.fields}


def settings_of(clip: Image) -> dict[str, Any]:
    """The form's values behind one of the member's clips, read from its task's stored parameters,
    with that clip's seed: "reuse settings" on its gallery page."""
    task = clip.task
    if task is None or task.task_type != "audioInference":  # uploaded, or made by a tool: no form behind it
        return {}
    params = task.params or {}
    values = stored_values(params, ("model", "positivePrompt", "duration", "outputFormat", "seed", "numberResults"))
    speech = params.get("speech")
    if isinstance(speech, dict):
        values["text"] = str(speech.get("text") or "")
        model = MODELS.get(str(params.get("model") or ""))
        voice = str(speech.get("voice") or "")
        values["voiceDescription" if model is not None and model.designs_voice else "voice"] = voice
    if isinstance(clip.seed, int):
        values["seed"] = clip.seed
    return values
