"""The model picker offers only what the member's team's model rules allow."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.catalog.test_picker import options

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_picker_lists_only_models_the_teams_rules_allow(alice, user, upstream):
    everything = options((await alice.get("/models/picker/", {"model": ""})).content.decode())
    families = {air.split("@")[0] + "@" for _, air in everything}
    assert len(families) > 1  # the control: unruled, several families are offered
    kept = sorted(families)[0]
    user.team.allowed_models = kept
    await sync_to_async(user.team.save)(update_fields=["allowed_models"])

    allowed = options((await alice.get("/models/picker/", {"model": ""})).content.decode())
    assert allowed == [option for option in everything if option[1].startswith(kept)]
    assert 0 < len(allowed) < len(everything)
