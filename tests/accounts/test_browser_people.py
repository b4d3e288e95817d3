"""In Chromium: a forgotten password reset through mail from a real SMTP server, and an invitation
taken from the team admin's page to the new member's first page in the team."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from runware_web.accounts.models import Role, Team, User
from tests.accounts.conftest import link_in
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a brand new passphrase 42"


def test_a_forgotten_password_is_reset_through_the_emailed_link(page, new_page, mailbox):
    make_user("alice", email="alice@example.com")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    link = link_in(mailbox.wait_for("alice@example.com"))
    page.goto(link)
    expect(page).not_to_have_url(re.compile(re.escape(link.rstrip("/").split("/")[-1])))  # the token left the URL
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    log_in(page, "alice", NEW_PASSWORD)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    again = new_page()
    again.goto(link)
    expect(again.get_by_role("heading", name="This link no longer works")).to_be_visible()


def test_an_invitation_takes_a_new_member_into_the_team(page, new_page, mailbox):
    team = Team.objects.create(name="Pixels")
    make_user("tess", team=team, role=Role.TEAM_ADMIN)
    log_in(page, "tess")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Invitations", exact=True)).to_be_visible()
    page.get_by_label("Role").select_option(label="Member")
    page.get_by_label("Send the link to (optional)").fill("newbie@example.com")
    page.get_by_role("button", name="Make the invitation").click()
    shown = page.get_by_label(re.compile("^Invitation link"))
    expect(shown).to_have_value(re.compile(r"/team/join/[\w-]{40,}/$"))
    link = link_in(mailbox.wait_for("newbie@example.com"))
    assert shown.input_value() == link
    expect(page.get_by_role("row").filter(has_text="newbie@example.com")).to_contain_text("Open")

    newcomer = new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="Join Pixels")).to_be_visible()
    newcomer.get_by_label("Username").fill("newbie")
    newcomer.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    newcomer.get_by_label("Password confirmation").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Join Pixels").click()

    expect(newcomer).to_have_url(re.compile(r"/studio/$"))
    expect(newcomer.get_by_role("status").filter(has_text="Welcome to Pixels!")).to_be_visible()
    expect(newcomer.get_by_role("link", name="newbie")).to_be_visible()
    member = User.objects.get(username="newbie")
    assert (member.team.name, member.role) == ("Pixels", Role.MEMBER)

    page.reload()
    expect(page.get_by_role("row").filter(has_text="newbie@example.com")).to_contain_text("Used")
    newcomer.goto(link)
    expect(newcomer.get_by_role("alert")).to_contain_text("already been used")


def test_a_locked_login_says_until_when_next_to_the_form(page, browser_problems, settings):
    make_user("alice")
    browser_problems.expect(r"status of 429")  # the locked attempt's answer (Too Many Requests)
    page.goto("/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong guess")
        page.get_by_role("button", name="Log in").click()
    form = page.locator("form", has=page.get_by_role("button", name="Log in"))
    lock = form.get_by_role("alert")
    expect(lock).to_contain_text("locked for 15 minutes")
    expect(lock).to_contain_text(re.compile(r"Try again after \d\d:\d\d \(UTC\)"))
    expect(page.get_by_label("Username")).to_have_value("alice")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(form.get_by_role("alert")).to_contain_text("Try again after")  # even the right password waits
