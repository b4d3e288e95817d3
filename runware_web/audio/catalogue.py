"""The audio models a member may pick: who speaks (and as which voices), who makes music or sound.

As the simulator documents them (docs/simulator.md, "Video, audio and 3D"), like the price table
(money.prices.AUDIO_PRICES): the form offers only these, and refuses a voice or duration the chosen
model does not take before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

SPEECH, MUSIC, SOUND = "speech", "music", "sfx"
KIND_LABELS = {SPEECH: "Speech", MUSIC: "Music", SOUND: "Sound effect"}


@dataclass(frozen=True)
class AudioModel:
    air: str
    name: str
    kind: str  # SPEECH, MUSIC or SOUND
    voices: tuple[str, ...] = ()  # a speech model's voices; none: the voice is designed from a description
    durations: tuple[int, int] = (1, 30)  # music and sound: the lengths it makes, in seconds
    duration: int = 10  # the default

    @property
    def label(self) -> str:
        return f"{self.name} ({KIND_LABELS[self.kind].lower()})"

    @property
    def designs_voice(self) -> bool:
        return self.kind == SPEECH and not self.voices

    @property
    def summary(self) -> str:
        """What it makes, in a line."""
        if self.designs_voice:
            return "speech, in a voice it designs from your description"
        if self.kind == SPEECH:
            return "speech as " + ", ".join(voice.replace("_", " ") for voice in self.voices)
        what = "music" if self.kind == MUSIC else "sound effects"
        return f"{what}, {self.durations[0]} to {self.durations[1]} seconds"

    @property
    def fields(self) -> str:
        """Which of the form's groups of fields it takes (the page shows only those)."""
        if self.kind != SPEECH:
            return "sound"
        return "speech speech-designed" if self.designs_voice else "speech speech-voices"


MODELS: dict[str, AudioModel] = {
    model.air: model
    for model in (
        AudioModel("elevenlabs:25@1", "ElevenLabs Turbo v2.5", SPEECH, ("Rachel", "Adam", "Bella", "Antoni")),
        AudioModel(
            "minimax:speech@2.8",
            "MiniMax Speech 2.8",
            SPEECH,
            (
                "English_CalmWoman",
                "English_Trustworthy_Man",
                "English_Graceful_Lady",
                "English_ManWithDeepVoice",
            ),
        ),
        AudioModel("inworld:tts@2", "Inworld TTS 2", SPEECH, ("Ashley", "Dennis", "Alex", "Olivia")),
        AudioModel("xai:tts@0", "xAI TTS", SPEECH, ("Ara", "Rex", "Sal", "Eve")),
        AudioModel(
            "google:gemini@3.1-flash-tts", "Gemini 3.1 Flash TTS", SPEECH, ("Kore", "Puck", "Charon", "Aoede")
        ),
        AudioModel(
            "alibaba:qwen@3-tts-1.7b-customvoice", "Qwen3 TTS", SPEECH, ("Vivian", "Ryan", "Serena", "Dylan")
        ),
        AudioModel("alibaba:qwen@3-tts-1.7b-voicedesign", "Qwen3 TTS Voice Design", SPEECH),
        AudioModel("minimax:music@2.6", "MiniMax Music 2.6", MUSIC, durations=(5, 240), duration=60),
        AudioModel("elevenlabs:1@1", "ElevenLabs Music", MUSIC, durations=(1, 300), duration=30),
        AudioModel(
            "runware:ace-step@v1.5-turbo", "ACE-Step 1.5 Turbo", MUSIC, durations=(5, 240), duration=30
        ),
        AudioModel("mirelo:1@1", "Mirelo SFX", SOUND, durations=(1, 30), duration=10),
    )
}
DEFAULT_MODEL = "elevenlabs:25@1"
FORMATS = ("MP3", "WAV", "OGG", "FLAC")


def page_data() -> dict[str, dict[str, object]]:
    """What the page's script needs to show a model's fields: per model, its groups of fields, the
    voice group to offer (the model's name) and its range of durations."""
    return {
        air: {
            "fields": model.fields,
            "voices": model.name if model.voices else "",
            "durations": list(model.durations),
            "duration": model.duration,
        }
        for air, model in MODELS.items()
    }
