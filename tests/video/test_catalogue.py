"""The Video page offers the simulator's video models as it makes and prices them."""

from __future__ import annotations

import typing
from decimal import Decimal

import pytest
from runware.types import task_map

from runware_web.money import prices
from runware_web.simulator.mediacatalog import VIDEO_MODELS
from runware_web.video.catalogue import MODELS


def test_the_page_offers_each_video_model_with_the_durations_and_sizes_it_makes():
    assert set(MODELS) == set(VIDEO_MODELS)
    for air, model in MODELS.items():
        spec = VIDEO_MODELS[air]
        durations = spec.durations or tuple(range(spec.duration_range[0], spec.duration_range[1] + 1))
        assert (model.durations, model.sizes, model.duration, model.size) == (
            durations,
            spec.sizes,
            spec.default_duration,
            spec.default_size,
        ), air


def test_each_video_is_priced_per_second_as_the_simulator_charges():
    assert set(prices.VIDEO_PRICES) == set(VIDEO_MODELS)
    for air, price in prices.VIDEO_PRICES.items():
        assert (price.per_second, price.default_duration) == (
            VIDEO_MODELS[air].price_per_second,
            VIDEO_MODELS[air].default_duration,
        ), air


@pytest.mark.django_db
def test_a_longer_video_is_estimated_dearer_and_a_model_not_listed_at_the_dear_end():
    params = {"model": "klingai:kling-video@3-standard", "duration": 10}
    assert prices.estimate("videoInference", params, 2) == Decimal("1.12")  # 2 × 10 s × $0.056
    assert prices.estimate("videoInference", {"model": "klingai:kling-video@3-standard"}, 1) == Decimal(
        "0.28"
    )
    assert prices.estimate("videoInference", {"model": "someone:new@1", "duration": 5}, 1) == Decimal("2.0")


def _sdk_params(air: str) -> set[str]:
    """The parameters runware-sdk 1.8.0's schema gives a curated model (its `…Params` TypedDict)."""
    for value in vars(task_map).values():
        if (
            isinstance(value, type)
            and value.__name__.endswith("Params")
            and value.__doc__
            and f"`{air}`" in value.__doc__
        ):
            return set(typing.get_type_hints(value))
    raise AssertionError(f"{air} is not in the SDK's registry")


def test_the_settings_each_model_takes_are_those_of_its_sdk_schema():
    for air, model in MODELS.items():
        sdk = _sdk_params(air)
        assert "inputs" in sdk, air  # frame images go in `inputs`
        assert (model.seed, model.negative_prompt) == ("seed" in sdk, "negativePrompt" in sdk), air
        if model.fps is not None:
            assert "fps" in sdk, air


def test_frame_images_and_frame_rates_are_as_the_simulator_takes_them():
    for air, model in MODELS.items():
        spec = VIDEO_MODELS[air]
        assert (model.frame_images, model.fps) == (spec.frame_images, spec.fps), air
        if model.fps is not None:
            assert model.default_fps == spec.default_fps, air
