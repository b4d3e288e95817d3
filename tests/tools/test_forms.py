"""The tools' forms: what they accept, what they refuse and say, and the Runware parameters they make."""

from __future__ import annotations

import pytest

from runware_web.live.frames import STRUCTURE_ERROR, bind_frame
from runware_web.tools.forms import (
    CaptionForm,
    EnhanceForm,
    MaskForm,
    PreprocessForm,
    RemoveBackgroundForm,
    UpscaleForm,
    split_versions,
)

IMAGE = "4f1b8c7e-8a77-4a43-9a3a-2b1f0f3e9d10"


# ------------------------------------------------------------------ prompt versions, either way


def test_one_item_per_version_gives_each_version():
    assert split_versions(["a castle, oil painting", "a castle, watercolour"], 2) == [
        "a castle, oil painting", "a castle, watercolour",
    ]


def test_a_single_text_holding_several_numbered_versions_is_split():
    text = "1. a castle at dawn, oil painting\n2) a castle at dusk, watercolour\n\n3 - a castle in fog, photo"
    assert split_versions([text], 3) == [
        "a castle at dawn, oil painting", "a castle at dusk, watercolour", "a castle in fog, photo",
    ]


def test_a_single_version_asked_for_is_kept_whole_even_over_several_lines():
    assert split_versions(["line one\nline two"], 1) == ["line one\nline two"]


def test_duplicates_and_blank_versions_are_dropped_and_no_more_than_asked_are_kept():
    assert split_versions(["same", "same", "  ", "other", "third"], 2) == ["same", "other"]


def test_enhance_asks_runware_for_the_versions_and_length_chosen():
    form = EnhanceForm({"prompt": "  a castle  ", "promptVersions": "4", "promptMaxLength": "120"})
    assert form.is_valid(), form.errors
    assert form.runware_params() == {
        "model": "runware:llama-3-1-8b@prompt-enhancer", "prompt": "a castle", "promptVersions": 4,
        "promptMaxLength": 120,
    }


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"prompt": "", "promptVersions": "3", "promptMaxLength": "300"}, "prompt", "Write a prompt first"),
        ({"prompt": "ab", "promptVersions": "3", "promptMaxLength": "300"}, "prompt", "at least a few words"),
        ({"prompt": "a castle", "promptVersions": "9", "promptMaxLength": "300"}, "promptVersions", "less than or equal to 5"),
        ({"prompt": "a castle", "promptVersions": "3", "promptMaxLength": "5"}, "promptMaxLength", "greater than or equal to 12"),
    ],
)
def test_enhance_refuses_bad_input_with_a_message_for_its_field(data, field, message):
    form = EnhanceForm(data)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


# ------------------------------------------------------------------ image tools


def test_caption_sends_the_image_and_the_question():
    form = CaptionForm({"image": IMAGE, "model": "runware:152@2", "prompt": "describe the lighting"})
    assert form.is_valid(), form.errors
    assert form.runware_params("data:image/png;base64,AAAA") == {
        "model": "runware:152@2", "inputs": {"image": "data:image/png;base64,AAAA"}, "prompt": "describe the lighting",
    }


def test_clip_cannot_be_asked_a_question():
    form = CaptionForm({"image": IMAGE, "model": "runware:151@1", "prompt": "what colour is it?"})
    assert not form.is_valid()
    assert "CLIP only lists tags" in form.errors["prompt"][0]


@pytest.mark.parametrize("model, factor, ok", [
    ("runware:504@1", 2, True), ("runware:504@1", 3, False), ("runware:504@1", 4, True),
    ("runware:500@1", 3, True), ("runware:501@1", 4, False), ("runware:500@1", 5, False),
])
def test_upscale_accepts_factors_2_to_4_that_the_model_supports(model, factor, ok):
    form = UpscaleForm({"image": IMAGE, "model": model, "upscaleFactor": str(factor), "outputFormat": "PNG"})
    assert form.is_valid() is ok
    if ok:
        assert form.runware_params("x")["upscaleFactor"] == factor


def test_remove_background_turns_colour_and_opacity_into_runwares_rgba():
    form = RemoveBackgroundForm({"image": IMAGE, "model": "runware:109@1", "outputFormat": "WEBP",
                                 "rgba": "#336699", "rgbaAlpha": "50", "alphaMatting": "on"})
    assert form.is_valid(), form.errors
    params = form.runware_params("x")
    assert params["outputFormat"] == "WEBP"
    assert params["settings"] == {
        "rgba": [0x33, 0x66, 0x99, 0.5], "returnOnlyMask": False, "postProcessMask": False, "alphaMatting": True,
        "alphaMattingForegroundThreshold": 240, "alphaMattingBackgroundThreshold": 10, "alphaMattingErodeSize": 10,
    }


def test_remove_background_refuses_options_the_model_does_not_take_and_crossed_thresholds():
    form = RemoveBackgroundForm({"image": IMAGE, "model": "runware:112@5", "outputFormat": "PNG", "rgba": "#ffffff",
                                 "returnOnlyMask": "on"})
    assert not form.is_valid()
    assert "Only RemBG 1.4" in form.errors["model"][0]

    form = RemoveBackgroundForm({"image": IMAGE, "model": "runware:109@1", "outputFormat": "PNG", "rgba": "red",
                                 "alphaMatting": "on", "alphaMattingForegroundThreshold": "50",
                                 "alphaMattingBackgroundThreshold": "60"})
    assert not form.is_valid()
    assert form.errors["rgba"] == ["Pick a colour (like #ffffff)."]
    assert "lower than the foreground threshold" in form.errors["alphaMattingBackgroundThreshold"][0]


def test_a_birefnet_model_gets_no_settings_it_does_not_know():
    form = RemoveBackgroundForm({"image": IMAGE, "model": "runware:112@10", "outputFormat": "PNG", "rgba": "#ffffff"})
    assert form.is_valid(), form.errors
    assert "settings" not in form.runware_params("x")


@pytest.mark.parametrize("kind", ["canny", "depth", "openpose", "mlsd", "normalbae", "lineart", "lineart-anime",
                                  "softedge", "scribble", "seg", "tile", "shuffle"])
def test_every_preprocessor_the_api_lists_is_offered(kind):
    form = PreprocessForm({"image": IMAGE, "model": f"runware:controlnet-preprocess@{kind}"})
    assert form.is_valid(), form.errors
    params = form.runware_params("x")
    assert params["model"] == f"runware:controlnet-preprocess@{kind}"
    expected = {"canny": {"lowThresholdCanny": 100, "highThresholdCanny": 200},
                "openpose": {"includeHandsAndFaceOpenPose": False}}.get(kind)
    assert params.get("settings") == expected


def test_mask_settings_default_like_runware_and_are_range_checked():
    form = MaskForm({"image": IMAGE, "model": "runware:35@3"})
    assert form.is_valid(), form.errors
    assert form.runware_params("x")["settings"] == {"confidence": 0.25, "maxDetections": 6, "maskPadding": 4, "maskBlur": 4}
    form = MaskForm({"image": IMAGE, "model": "runware:35@3", "maxDetections": "50", "maskBlur": "-1"})
    assert not form.is_valid()
    assert set(form.errors) == {"maxDetections", "maskBlur"}


def test_a_frame_with_a_structure_where_a_value_belongs_is_refused_on_that_field():
    form = bind_frame(CaptionForm, {"image": IMAGE, "model": "runware:150@2", "prompt": {"a": 1}})
    assert not form.is_valid()
    assert form.errors["prompt"] == [STRUCTURE_ERROR]


def test_a_frame_binds_like_a_post():
    form = bind_frame(PreprocessForm, {"image": IMAGE, "model": "runware:controlnet-preprocess@openpose",
                                       "includeHandsAndFaceOpenPose": True, "lowThresholdCanny": 10,
                                       "unknown": [1, 2]})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["includeHandsAndFaceOpenPose"] is True and form.cleaned_data["lowThresholdCanny"] == 10
