"""Prices from Runware's catalogue (upstream.content, read with the SDK's content client from the
simulator's content service): the estimate follows the catalogue where it differs from the built-in
table, is asked once within its lifetime, falls back to the last known price with a note when the
catalogue cannot be reached, and to the table, saying so, when it was never known. The look-up is
made before admission, never inside its transaction, and admission reserves what the page shows."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.http import QueryDict
from django.shortcuts import resolve_url
from django.test import Client
from django.test.utils import override_settings
from playwright.sync_api import expect

from runware_web.audio import services as audio_services
from runware_web.money import prices
from runware_web.money.prices import aquote, quote, table_price
from runware_web.runner import admit as runner_admit
from runware_web.runner.submit import wait
from runware_web.simulator import content as simulated_content
from runware_web.upstream import content
from runware_web.upstream.models import Task
from runware_web.video import services as video_services
from runware_web.video.forms import VideoForm
from tests.browser import log_in
from tests.conftest import acreate_user, make_user

VIDEO = "klingai:kling-video@3-standard"  # $0.056 a second in the table and in the simulator
SPEECH = "elevenlabs:25@1"  # $0.05 per 1000 characters
MUSIC = "minimax:music@2.6"  # $0.001 a second
MESH = "tencent:hunyuan-3d@3.1-rapid"  # $0.1 a model
VIDEO_FORM = {  # the Video page's form: two 5-second Kling 3.0 videos, $0.28 each in the table
    "model": VIDEO,
    "positivePrompt": "waves on a pebble beach",
    "negativePrompt": "",
    "duration": "5",
    "width": "1280",
    "height": "720",
    "seed": "",
    "numberResults": "2",
}
TEXT = "The tide is out and the gulls are loud this morning."  # 52 characters

CASES = [
    ("videoInference", {"model": VIDEO, "duration": 10, "positivePrompt": "waves"}),
    ("audioInference", {"model": SPEECH, "speech": {"text": TEXT, "voice": "Rachel"}}),
    ("audioInference", {"model": MUSIC, "positivePrompt": "a waltz", "duration": 20}),
    ("3dInference", {"model": MESH, "positivePrompt": "a teapot"}),
]


class Catalogue:
    """The simulator's content service, watched: how often a model's pricing was asked for, and
    prices `factor` times the simulator's own (so that they differ from the built-in table)."""

    def __init__(self) -> None:
        self.requests = 0
        self.factor = Decimal(1)
        self.failing = False
        self.hold: threading.Event | None = None  # set: the service answers only once it is set

    def pricing_of(self, original: Any, model_id: str, base_url: str) -> Any:
        self.requests += 1
        if self.hold is not None:
            self.hold.wait(timeout=10)
        if self.failing:
            raise RuntimeError("the content service is down")  # the simulator answers 500
        found = original(model_id, base_url)
        if found is None:
            return None
        examples = [
            {**example, "price": simulated_content.money(Decimal(example["price"][1:]) * self.factor)}
            for example in found["pricingExamples"]
        ]
        return {**found, "pricingOverview": "", "pricingExamples": examples}


@pytest.fixture
def catalogue(monkeypatch) -> Catalogue:
    watched = Catalogue()
    original = simulated_content.pricing_of
    monkeypatch.setattr(
        simulated_content,
        "pricing_of",
        lambda model_id, base_url: watched.pricing_of(original, model_id, base_url),
    )
    return watched


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the with block ends: refused


def test_the_content_service_is_the_simulators_next_to_the_upstream_address(simulator):
    assert content.content_url() == simulator.simulator.content_url
    with override_settings(RUNWARE_HTTP_URL="https://api.runware.ai/v1"):
        assert content.content_url() == "https://content.runware.ai"
    with override_settings(RUNWARE_CONTENT_URL="https://catalogue.example/content/"):
        assert content.content_url() == "https://catalogue.example/content"


@pytest.mark.django_db
@pytest.mark.parametrize(("task_type", "params"), CASES, ids=["video", "speech", "music", "3d"])
async def test_the_estimate_is_the_catalogues_price_where_it_differs_from_the_table(
    catalogue, task_type, params
):
    catalogue.factor = Decimal(3)
    figure = await aquote(task_type, params, 2)

    table = table_price(task_type, params)
    assert figure.basis == "catalogue"
    assert figure.per_result == table * 3 != table
    assert figure.amount == figure.per_result * 2
    assert figure.source.startswith("from Runware's catalogue, as of ") and figure.source.endswith(" UTC")
    assert catalogue.requests == 1


@pytest.mark.django_db
async def test_the_price_is_asked_for_once_within_its_lifetime(catalogue):
    catalogue.factor = Decimal(2)
    figures = [await aquote("videoInference", {"model": VIDEO, "duration": d}, 1) for d in (3, 5, 8, 10) * 5]
    assert catalogue.requests == 1
    assert {f.per_result / d for f, d in zip(figures, (3, 5, 8, 10) * 5, strict=True)} == {Decimal("0.112")}
    assert len({f.as_of for f in figures}) == 1
    assert content.FRESH_SECONDS == 3600  # the lifetime the docs state

    await cache.adelete(content._fresh_key(VIDEO))  # the hour is over
    catalogue.factor = Decimal(4)
    again = await aquote("videoInference", {"model": VIDEO, "duration": 5}, 1)
    assert catalogue.requests == 2 and again.per_result == Decimal("0.056") * 4 * 5
    assert again.as_of > figures[0].as_of


@pytest.mark.django_db
@pytest.mark.parametrize("outage", ["failing", "closed port"])
async def test_an_unreachable_catalogue_leaves_the_last_known_price_with_a_note(catalogue, outage):
    catalogue.factor = Decimal(2)
    known = await aquote("3dInference", {"model": MESH}, 1)
    assert known.basis == "catalogue" and known.per_result == Decimal("0.2")

    await cache.adelete(content._fresh_key(MESH))  # the hour is over, and the catalogue is down
    asked = catalogue.requests
    address = f"http://127.0.0.1:{closed_port()}/content" if outage == "closed port" else ""
    catalogue.failing = True
    with override_settings(RUNWARE_CONTENT_URL=address):
        stale = await aquote("3dInference", {"model": MESH}, 2)
        assert stale.basis == "last-known"
        assert stale.per_result == Decimal("0.2") and stale.amount == Decimal("0.4")
        assert stale.as_of == known.as_of
        assert stale.source.startswith("at the last known price (")
        assert stale.source.endswith("Runware's catalogue could not be reached")
        # Not asked again on every estimate while it is down: after RETRY_SECONDS.
        await aquote("3dInference", {"model": MESH}, 1)
        remembered = await database_sync_to_async(content.known_pricing)(MESH)
        assert remembered is not None and not remembered.reachable and remembered.per_result == Decimal("0.2")
    assert catalogue.requests == asked + (1 if outage == "failing" else 0)
    assert content.RETRY_SECONDS == 30


@pytest.mark.django_db
async def test_a_price_never_known_is_the_tables_and_says_so(catalogue):
    with override_settings(RUNWARE_CONTENT_URL=f"http://127.0.0.1:{closed_port()}/content"):
        figure = await aquote("videoInference", {"model": VIDEO, "duration": 5}, 1)
    assert figure.basis == "table"
    assert (
        figure.per_result == table_price("videoInference", {"model": VIDEO, "duration": 5}) == Decimal("0.28")
    )
    assert figure.source == "from the built-in price table"
    assert catalogue.requests == 0


@pytest.mark.django_db
async def test_a_slow_catalogue_is_waited_for_no_longer_than_the_timeout(catalogue, monkeypatch):
    monkeypatch.setattr(content, "LOOKUP_TIMEOUT_SECONDS", 0.3)
    catalogue.hold = threading.Event()
    started = time.monotonic()
    try:
        figure = await aquote("3dInference", {"model": MESH}, 1)
        waited = time.monotonic() - started
    finally:
        catalogue.hold.set()
    assert figure.basis == "table" and figure.source == "from the built-in price table"
    assert 0.3 <= waited < 2


@pytest.mark.django_db
async def test_a_model_the_catalogue_does_not_price_is_priced_by_the_table(catalogue):
    figure = await aquote("3dInference", {"model": "new:mesh@1"}, 1)
    assert figure.basis == "table" and figure.per_result == max(prices.THREE_D_PRICES.values())


def test_a_catalogue_entry_is_read_at_its_dearest_example():
    read = content.read_pricing(
        {
            "pricingOverview": "From $0.05 per second.",
            "pricingExamples": [
                {"configuration": "5s · 1280x720", "price": "$0.25"},
                {"configuration": "5s · 1920x1080", "price": "$0.40"},
                {"configuration": "bogus", "price": "free"},
            ],
        },
        as_of=datetime(2026, 1, 1),
    )
    assert read.per_second == Decimal("0.08") and read.per_result is None
    speech = content.read_pricing(
        {"pricingOverview": "$0.06 per 1,000 characters of text."}, as_of=read.as_of
    )
    assert speech.per_thousand_characters == Decimal("0.06")


@pytest.mark.django_db(transaction=True)
async def test_a_clip_reserves_the_catalogue_price_looked_up_before_admission(
    catalogue, upstream, monkeypatch
):
    """Admission reserves exactly the estimate the page shows, priced by the catalogue, and its
    transaction waits on no look-up: the one request to the catalogue was made before it began."""
    catalogue.factor = Decimal(3)
    user = await acreate_user("alice")
    seen_at_admission: list[int] = []
    original = runner_admit.admit_many

    def watched_admit_many(**kwargs: Any) -> Any:
        seen_at_admission.append(catalogue.requests)
        return original(**kwargs)

    monkeypatch.setattr(runner_admit, "admit_many", watched_admit_many)
    data = QueryDict(mutable=True)
    data.update(
        {
            "model": SPEECH,
            "text": TEXT,
            "voice": "Rachel",
            "voiceDescription": "",
            "positivePrompt": "",
            "duration": "",
            "outputFormat": "MP3",
            "seed": "",
            "numberResults": "2",
        }
    )

    shown = await audio_services.estimate_for(audio_services.AudioForm(data))
    outcome = await audio_services.generate(user, data)
    assert outcome.task is not None, outcome.refusal
    await wait(outcome.task.pk)

    task = await Task.objects.aget(pk=outcome.task.pk)
    expected = (Decimal("0.05") * 3 * len(TEXT) / 1000).quantize(Decimal("0.00000001")) * 2
    assert shown.basis == "catalogue" and shown.amount == expected
    assert task.estimated_cost == expected
    assert seen_at_admission == [1] and catalogue.requests == 1


@pytest.mark.django_db
def test_the_runners_own_estimate_asks_no_one(catalogue):
    """An estimate computed inside admission (`estimate`/`quote` without a looked-up price) reads
    nothing upstream: it is the table's (or what recent charges say)."""
    figure = quote("audioInference", {"model": MUSIC, "duration": 20}, 1)
    assert figure.basis == "table" and figure.per_result == Decimal("0.02")
    assert catalogue.requests == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("page", "query"),
    [
        (
            "/audio/estimate",
            {"model": SPEECH, "text": TEXT, "voice": "Rachel", "outputFormat": "MP3", "numberResults": "1"},
        ),
        ("/3d/estimate", {"model": MESH, "positivePrompt": "a teapot", "numberResults": "1"}),
    ],
)
def test_the_pages_show_where_the_estimate_comes_from(client, catalogue, page, query):
    client.force_login(make_user("alice"))
    catalogue.factor = Decimal(2)
    shown = client.get(page, query).content.decode()
    assert "from Runware&#x27;s catalogue, as of " in shown
    assert ("$0.0052" in shown) if "audio" in page else ("$0.20" in shown)

    cache.delete(content._fresh_key(query["model"]))
    catalogue.failing = True
    stale = client.get(page, query).content.decode()
    assert "at the last known price (" in stale and "catalogue could not be reached" in stale
    assert ("$0.0052" in stale) if "audio" in page else ("$0.20" in stale)

    cache.clear()
    never = client.get(page, query).content.decode()
    assert "from the built-in price table" in never
    assert ("$0.0026" in never) if "audio" in page else ("$0.10" in never)


@pytest.mark.django_db(transaction=True)
def test_the_video_pages_estimate_follows_the_catalogue_price(client, catalogue):
    client.force_login(make_user("alice"))
    catalogue.factor = Decimal(2)
    shown = client.get("/video/estimate", VIDEO_FORM).content.decode()
    assert "≈ $1.12" in shown  # 2 videos × 5 s × $0.112, the catalogue's; the table says $0.56
    assert "for 2 videos," in shown and "from Runware&#x27;s catalogue, as of " in shown

    cache.delete(content._fresh_key(VIDEO))  # the hour is over, and Runware changed its price
    catalogue.factor = Decimal(3)
    changed = client.get("/video/estimate", VIDEO_FORM).content.decode()
    assert "≈ $1.68" in changed and "from Runware&#x27;s catalogue, as of " in changed
    assert catalogue.requests == 2

    # A request the model cannot make is not priced, and nothing is asked of the catalogue.
    refused = client.get("/video/estimate", {**VIDEO_FORM, "duration": "7"}).content.decode()
    assert "Complete the form for an estimate." in refused and "$" not in refused
    assert catalogue.requests == 2

    page = client.get("/video/").content.decode()  # the default model's first estimate
    assert "from Runware&#x27;s catalogue, as of " in page

    anonymous = Client()
    for address in ("/video/", "/video/estimate"):
        response = anonymous.get(address, VIDEO_FORM)
        assert response.status_code == 302 and response["Location"].startswith(resolve_url("login"))


@pytest.fixture
def quick_videos(simulator):
    """Kling 3.0 takes a twentieth of its nominal 12 s in the simulator; restored after."""
    before = simulator.simulator.media_latency_scale
    simulator.set_media_latency_scale(0.05)
    yield
    simulator.set_media_latency_scale(before)


@pytest.mark.django_db(transaction=True)
async def test_a_video_reserves_the_catalogue_price_looked_up_before_admission(
    catalogue, upstream, quick_videos, monkeypatch
):
    """The Video page's `generate` reserves exactly the estimate the page shows, priced by the
    catalogue, and looked up before admission began (never inside its transaction)."""
    catalogue.factor = Decimal(3)
    user = await acreate_user("alice")
    seen_at_admission: list[int] = []
    original = runner_admit.admit_many

    def watched_admit_many(**kwargs: Any) -> Any:
        seen_at_admission.append(catalogue.requests)
        return original(**kwargs)

    monkeypatch.setattr(runner_admit, "admit_many", watched_admit_many)
    data = QueryDict(mutable=True)
    data.update(VIDEO_FORM)

    form = await database_sync_to_async(VideoForm)(data, user=user)
    shown = await video_services.estimate_for(form)
    outcome = await video_services.generate(user, data)
    assert outcome.task is not None, outcome.refusal
    await wait(outcome.task.pk)

    task = await Task.objects.aget(pk=outcome.task.pk)
    assert shown is not None and shown.basis == "catalogue"
    assert shown.amount == Decimal("0.056") * 3 * 5 * 2 == Decimal("1.68")
    assert task.estimated_cost == shown.amount
    assert task.status == Task.Status.DONE
    assert seen_at_admission == [1] and catalogue.requests == 1


def screenshots(tmp_path) -> str:
    return os.environ.get("RUNWARE_WEB_SCREENSHOTS") or str(tmp_path)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_audio_and_3d_pages_say_where_their_estimate_comes_from(new_page, catalogue, tmp_path):
    make_user("alice")
    catalogue.factor = Decimal(2)
    page = new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, "alice")

    page.goto("/3d/")
    estimate = page.locator("#estimate")
    expect(estimate).to_contain_text("$0.20")  # the catalogue's $0.2 a model, not the table's $0.1
    expect(estimate).to_contain_text(re.compile(r"from Runware's catalogue, as of \d\d:\d\d UTC"))
    page.screenshot(path=os.path.join(screenshots(tmp_path), "catalogue-3d-1440.png"))

    page.goto("/audio/")
    page.get_by_label("Text to speak").fill(TEXT)
    expect(estimate).to_contain_text("$0.0052")  # $0.1 per 1000 characters × 52
    expect(estimate).to_contain_text("from Runware's catalogue, as of")

    # The hour is over and the catalogue cannot be reached: the last known price, saying so.
    cache.delete(content._fresh_key(SPEECH))
    catalogue.failing = True
    page.get_by_label("Text to speak").fill(TEXT + " Again.")  # 59 characters
    expect(estimate).to_contain_text("Runware's catalogue could not be reached")
    expect(estimate).to_contain_text("$0.0059")
    page.screenshot(path=os.path.join(screenshots(tmp_path), "catalogue-audio-1440.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    estimate.scroll_into_view_if_needed()
    page.screenshot(path=os.path.join(screenshots(tmp_path), "catalogue-audio-390.png"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_video_page_says_its_estimate_is_the_catalogues(new_page, catalogue, tmp_path):
    make_user("alice")
    catalogue.factor = Decimal(2)
    page = new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, "alice")

    page.goto("/video/")
    estimate = page.locator("#estimate")
    expect(estimate).to_contain_text(re.compile(r"from Runware's catalogue, as of \d\d:\d\d UTC"))
    page.get_by_label("Prompt", exact=True).fill("waves on a pebble beach")
    page.get_by_label("Model").select_option(VIDEO)
    expect(page.get_by_label("Duration (seconds)")).to_have_value("5")
    expect(estimate).to_contain_text("$0.56")  # 5 s × the catalogue's $0.112, not the table's $0.28
    expect(estimate).to_contain_text("from Runware's catalogue, as of")
    estimate.scroll_into_view_if_needed()
    page.screenshot(path=os.path.join(screenshots(tmp_path), "catalogue-video-1440.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    estimate.scroll_into_view_if_needed()
    page.screenshot(path=os.path.join(screenshots(tmp_path), "catalogue-video-390.png"))


@pytest.mark.django_db(transaction=True)
async def test_a_task_submitted_without_an_estimate_is_reserved_at_the_catalogue_price(
    catalogue, upstream, quick_videos
):
    """A caller that leaves the estimate to the runner (a script's task through /v1, say) is priced
    by the catalogue too: the runner looks it up before admission."""
    catalogue.factor = Decimal(3)
    user = await acreate_user("alice")
    params = {"model": VIDEO, "positivePrompt": "surf",
              "duration": 5, "width": 1280, "height": 720, "numberResults": 1, "outputType": "URL",
              "outputFormat": "MP4"}
    task = await upstream.submit(user=user, feature="video", task_type="videoInference", params=params,
                                 delivery="async")
    assert task.estimated_cost == Decimal("0.056") * 3 * 5 == Decimal("0.84")  # the table says $0.28
    assert catalogue.requests == 1
    await wait(task.pk)
