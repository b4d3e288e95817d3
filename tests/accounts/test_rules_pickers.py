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


def test_the_tools_pickers_list_only_what_the_rules_allow(alice_client, user):
    from tests.gallery.factories import make_image

    image = make_image(user)

    def captioners() -> list[str]:
        html = alice_client.get("/tools/", {"image": image.pk}).content.decode()
        select = re.search(r'<select name="model"[^>]*id="id_caption_model"[^>]*>(.*?)</select>', html, re.S)
        assert select, "the caption tool's model picker"
        return re.findall(r'<option value="([^"]+)"', select.group(1))

    assert "runware:150@2" in captioners()  # the control: unruled, every captioner
    user.team = Team.objects.create(name="Narrow", allowed_models="runware:152@")
    user.save(update_fields=["team"])
    assert captioners() == ["runware:152@2", "runware:152@1"]
