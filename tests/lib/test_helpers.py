"""The shared helpers every page words things with: money, durations, task kinds, model names."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from runware_web.lib.air import is_air
from runware_web.lib.durations import duration
from runware_web.lib.kinds import LABELS, aliases, kind_label
from runware_web.lib.money import plain_amount, usd, usd_estimate


@pytest.mark.parametrize(("amount", "shown"), [
    (Decimal("0.0041234500"), "$0.00412345"),  # every digit Runware gave, none it did not
    (Decimal("1012.5"), "$1,012.50"),  # at least cents
    (Decimal(0), "$0.00"),
    (Decimal("-0.5"), "−$0.50"),
    ("0.25", "$0.25"),  # as a template or a JSON payload holds it
    (None, "—"),
    ("garbage", "—"),
])
def test_an_amount_shows_exactly_what_runware_reported(amount, shown):
    assert usd(amount) == shown


def test_a_budget_field_shows_its_amount_without_grouping():
    assert plain_amount(Decimal("1500.2500"), grouping=False) == "1500.25"


def test_an_estimate_is_rounded_up_and_never_shown_as_free():
    assert usd_estimate(Decimal("0.01031")) == "$0.0104"
    assert usd_estimate(Decimal("0.0000001")) == "$0.0001"
    assert usd_estimate(Decimal(0)) == "$0.0001"


@pytest.mark.parametrize(("value", "shown"), [
    (3.21, "3.2 s"),
    (timedelta(seconds=65), "1 min 05 s"),
    (timedelta(hours=2, minutes=3), "2 h 03 min"),
    (None, "—"),
])
def test_a_duration_reads_in_the_unit_a_person_expects(value, shown):
    assert duration(value) == shown


def test_a_legacy_task_type_has_the_label_of_its_current_name():
    assert kind_label("imageUpscale") == kind_label("upscale") == "Upscale"
    assert kind_label("somethingNew") == "somethingNew"
    assert kind_label("") == "Other"


def test_each_kind_finds_the_tasks_stored_under_its_legacy_names():
    assert aliases("removeBackground") == ["removeBackground", "imageBackgroundRemoval"]
    assert aliases("imageInference") == ["imageInference"]
    assert "imageUpscale" not in LABELS  # a filter offers each kind once


@pytest.mark.parametrize("air", ["runware:101@1", "civitai:101055@128078", "Civitai:1@2", "openai:gpt@5-mini"])
def test_model_names_in_air_form_are_accepted_whatever_the_case_of_their_source(air):
    assert is_air(air)


@pytest.mark.parametrize("text", ["", "flux dev", "runware:101", ":1@1", "runware:101@1 ", None, 101])
def test_anything_else_is_not_a_model_name(text):
    assert not is_air(text)
