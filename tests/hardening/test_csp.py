"""A strict Content-Security-Policy on every page, and no server software named in headers.

Every page answers with a policy that allows scripts and styles only from the portal or carrying
the response's nonce (fresh each time), and its HTML holds nothing that policy would block: no
inline script or style without the nonce, no style="" or on…="" attribute. In a real browser every
page loads with no violation. Neither Daphne nor anything else says what software serves the portal.
"""

from __future__ import annotations

import runpy
import socket
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from django.test import Client
from django.urls import reverse
from storages.backends.s3 import S3Storage

import runware_web.settings as portal_settings
from runware_web.chat.models import Conversation
from runware_web.studio import fragments
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.gallery.factories import make_image, make_task

PASSWORD = "correct horse battery"


def policy_of(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


class InlineCode(HTMLParser):
    """What in a page the policy has to allow: scripts, styles, and attributes that would be inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.inline_attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self.elements.append((tag, dict(attrs)))
        self.inline_attributes += [f"<{tag} {name}>" for name, _ in attrs if name == "style" or name.startswith("on")]


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    return parser


def every_page(member) -> list[str]:
    """Every page of the portal as a staff member sees it, each with something on it: a generation
    with one image in and one on its way, a budget meter, an image, a conversation."""
    member.monthly_budget = Decimal("5.00")
    member.save(update_fields=["monthly_budget"])
    running = make_task(member, status=Task.Status.RUNNING, number_results=2)
    image = make_image(member, "a lighthouse at dusk", task=running)
    conversation = Conversation.objects.create(user=member, title="Lighthouses")
    return [
        reverse("studio:index"), reverse("studio:generation", args=[running.pk]),
        reverse("gallery:index"), reverse("gallery:detail", args=[image.pk]),
        f"{reverse('tools:index')}?image={image.pk}", reverse("catalog:index"), reverse("chat:index"),
        reverse("chat:conversation", args=[conversation.pk]), reverse("history:index"),
        reverse("spend:index"), reverse("account:usage"),
    ]


def test_every_page_allows_only_its_own_scripts_and_styles_by_a_fresh_nonce(client, staff_user):
    client.force_login(staff_user)
    anonymous = Client()
    for url, browser in [(url, client) for url in every_page(staff_user)] + [(reverse("login"), anonymous)]:
        first, second = browser.get(url), browser.get(url)
        assert first.status_code == 200, url
        policy = policy_of(first)
        nonce = next(source for source in policy["script-src"] if source.startswith("'nonce-"))
        assert policy["script-src"] == ["'self'", nonce] and policy["style-src"] == ["'self'", nonce], url
        assert nonce != next(s for s in policy_of(second)["script-src"] if s.startswith("'nonce-")), url
        found = inline_code(first.content.decode())
        assert found.inline_attributes == [], url
        assert any(tag == "script" for tag, _ in found.elements), url  # htmx at least: the check is not empty
        for tag, attrs in found.elements:
            from_the_portal = tag == "script" and bool(attrs.get("src"))
            assert from_the_portal or f"'nonce-{attrs.get('nonce')}'" == nonce, (url, tag, attrs)


def test_what_sockets_push_needs_no_nonce(staff_user):
    """Fragments pushed to open tabs are rendered without a request, so without a nonce: they must
    hold nothing the policy would block (here a generation with an image in and a slot waiting)."""
    every_page(staff_user)
    running = Task.objects.get(user=staff_user, status=Task.Status.RUNNING)

    pushed = fragments.card(running)

    assert 'class="placeholder-shape"' in pushed and "/thumb" in pushed  # both kinds of slot are in it
    found = inline_code(pushed)
    assert found.elements == [] and found.inline_attributes == []


def test_the_policy_forbids_what_a_strict_policy_forbids(client, staff_user):
    client.force_login(staff_user)
    policy = policy_of(client.get(reverse("studio:index")))

    assert policy["default-src"] == ["'self'"] and policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    every_source = {source for sources in policy.values() for source in sources}
    assert not every_source & {"'unsafe-inline'", "'unsafe-eval'", "*", "http:"}


def test_model_pictures_of_the_simulator_are_allowed_where_it_serves_them(client, staff_user, simulator):
    client.force_login(staff_user)
    page = client.get(reverse("catalog:index"))

    simulator_origin = f"http://{urlsplit(simulator.http_url).netloc}"
    assert simulator_origin in policy_of(page)["img-src"]
    assert f'src="{simulator_origin}/' in page.content.decode()  # the page does show its pictures


@pytest.mark.parametrize("environment", [
    {"REGION": "eu-west-1"},
    {"ENDPOINT_URL": "http://127.0.0.1:9000"},
])
def test_originals_in_a_bucket_are_allowed_where_the_bucket_serves_them(monkeypatch, environment):
    for name, value in {"BUCKET": "portal-media", "ACCESS_KEY_ID": "test", "SECRET_ACCESS_KEY": "test",
                        **environment}.items():
        monkeypatch.setenv(f"RUNWARE_WEB_S3_{name}", value)
    configured = runpy.run_path(portal_settings.__file__)  # settings read afresh with the bucket set

    signed = urlsplit(S3Storage(**configured["STORAGES"]["default"]["OPTIONS"]).url("images/a.png"))
    image_sources = configured["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]
    assert f"{signed.scheme}://{signed.netloc}" in image_sources


# ------------------------------------------------------------------------------------ in a browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_every_page_loads_in_a_browser_with_no_policy_violation(new_page, browser_problems):
    pages = every_page(make_user("sam", is_staff=True, is_superuser=True))
    page = new_page()  # watched: any violation is a console error that fails the test (tests/browser.py)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(urlsplit(ws.url).path))

    page.goto(reverse("login"))
    page.wait_for_load_state("networkidle")
    log_in(page, "sam", PASSWORD)
    for url in pages:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        browser_problems.check(url)
    assert "/ws/studio/" in sockets and "/ws/chat/" in sockets  # same-origin sockets open under connect-src 'self'


# ------------------------------------------------------------------------------- no server named


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_response_names_the_server_software(live_server_url):
    with urlopen(f"{live_server_url}{reverse('login')}") as response:  # noqa: S310 - our own test server
        names = {name.lower() for name in response.headers}
    assert not names & {"server", "x-powered-by", "x-aspnet-version", "via"}

    handshake = _websocket_handshake_headers(live_server_url, "/ws/studio/")
    assert handshake[0].startswith("HTTP/1.1 ")  # Daphne answered the upgrade…
    assert not any(line.lower().startswith(("server:", "x-powered-by:")) for line in handshake)  # …nameless


def _websocket_handshake_headers(base_url: str, path: str) -> list[str]:
    """The status line and headers of Daphne's answer to a WebSocket upgrade (accepted or refused)."""
    address = urlsplit(base_url)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Origin: {base_url}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")

