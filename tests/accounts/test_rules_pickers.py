"""The model pickers of the Video, Audio and 3D pages offer only what the team's model rules allow."""

from __future__ import annotations

import re

import pytest

from runware_web.accounts.models import Team

pytestmark = pytest.mark.django_db(transaction=True)


def offered(html: str) -> list[str]:
    select = re.search(r'<select name="model"[^>]*>(.*?)</select>', html, re.S)
    assert select, html[:500]
    return re.findall(r'<option value="([^"]+)"', select.group(1))


@pytest.mark.parametrize("path, family", [("/video/", "google:"), ("/3d/", "tencent:"), ("/audio/", "elevenlabs:")])
def test_the_picker_lists_only_the_families_the_rules_allow(alice_client, user, path, family):
    everything = offered(alice_client.get(path).content.decode())
    assert any(not air.startswith(family) for air in everything)  # the control: unruled, more is offered
    user.team = Team.objects.create(name="Narrow", allowed_models=family)
    user.save(update_fields=["team"])
    allowed = offered(alice_client.get(path).content.decode())
    assert allowed == [air for air in everything if air.startswith(family)] and allowed
