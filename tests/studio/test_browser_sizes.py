"""A size the studio cannot make is answered with the sizes it can: the range, not only the step."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import PROMPT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def ask_for(page, width: str, height: str) -> None:
    page.get_by_label("Prompt", exact=True).fill(PROMPT)
    page.get_by_label("Width").fill(width)
    page.get_by_label("Height").fill(height)
    page.get_by_role("button", name="Generate", exact=True).click()


@pytest.mark.parametrize(("height", "said"), [
    ("99999999", "Use 128 to 2048 pixels, in steps of 64."),
    ("64", "Use 128 to 2048 pixels, in steps of 64."),
    ("1000", "Use a multiple of 64 pixels from 128 to 2048, such as 960 or 1024."),
    ("2047", "Use a multiple of 64 pixels from 128 to 2048, such as 1984 or 2048."),
])
def test_a_height_the_studio_cannot_make_is_answered_with_the_allowed_range(page, height, said):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/studio/")

    ask_for(page, "512", height)

    expect(page.locator("#errors-height")).to_have_text(said)
    expect(page.locator("#errors-width")).to_have_text("")
    expect(page.get_by_role("region", name="Results").get_by_role("article")).to_have_count(0)  # nothing sent
