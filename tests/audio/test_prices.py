"""The audio and 3D price tables (money.prices, the one price source) and model lists of the pages
agree with what the simulator charges and runs (docs/simulator.md): an estimate is what is billed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runware_web.audio.catalogue import MODELS as AUDIO_MODELS
from runware_web.money.prices import AUDIO_PRICES, THREE_D_PRICES, table_price
from runware_web.simulator import mediacatalog, pricing
from runware_web.threed.catalogue import MODELS as THREE_D_MODELS

TEXT = "Forty-two characters of text to be spoken."


@pytest.mark.parametrize("air", sorted(AUDIO_MODELS))
def test_each_audio_model_of_the_page_is_priced_as_the_simulator_charges_it(air):
    spec = mediacatalog.audio_spec(air)
    model = AUDIO_MODELS[air]
    assert spec.kind == model.kind and set(spec.voices) == set(model.voices)
    if model.kind == "speech":
        params = {"model": air, "speech": {"text": TEXT, "voice": "x"}}
        charged = pricing.quantize(spec.price * len(TEXT) / 1000)
    else:
        assert spec.duration_range == model.durations and spec.default_duration == model.duration
        params = {"model": air, "positivePrompt": "rain", "duration": 12}
        charged = pricing.quantize(spec.price * Decimal(12))
    assert table_price("audioInference", params) == charged
    assert air in AUDIO_PRICES


@pytest.mark.parametrize("air", sorted(THREE_D_MODELS))
def test_each_3d_model_of_the_page_is_priced_as_the_simulator_charges_it(air):
    spec = mediacatalog.three_d_spec(air)
    assert table_price("3dInference", {"model": air}) == spec.price == THREE_D_PRICES[air]
    assert ("text" in spec.inputs) == (not THREE_D_MODELS[air].needs_image) and not spec.needs_mask


def test_an_unknown_audio_or_3d_model_is_priced_at_the_dear_end():
    speech = table_price("audioInference", {"model": "new:tts@1", "speech": {"text": TEXT, "voice": "x"}})
    assert speech >= max(
        table_price("audioInference", {"model": air, "speech": {"text": TEXT}})
        for air, model in AUDIO_MODELS.items()
        if model.kind == "speech"
    )
    assert table_price("3dInference", {"model": "new:mesh@1"}) == max(THREE_D_PRICES.values())
