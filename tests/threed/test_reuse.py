""""Reuse settings" for a 3D model: the gallery's detail page links to the 3D page, which opens with
its form filled from the task the model came from, only for the member's own models."""

from __future__ import annotations

import pytest
from django.urls import reverse

from runware_web.media.models import Image
from tests.gallery.factories import make_image, make_mesh

# The 3D page is an async view: its database work runs in other threads.
pytestmark = pytest.mark.django_db(transaction=True)
NOT_AVAILABLE = "The 3D model whose settings you wanted to reuse is not available."


def made_with(mesh: Image, **params) -> Image:
    """The model, as if its task had been sent with these parameters."""
    mesh.task.params = {**mesh.task.params, **params}
    mesh.task.model = mesh.task.params["model"]
    mesh.task.save(update_fields=["params", "model"])
    return mesh


def test_the_detail_page_of_a_3d_model_links_to_reuse_its_settings(alice_client, user, tmp_path):
    mesh = make_mesh(user, tmp_path)
    page = alice_client.get(reverse("gallery:detail", args=[mesh.pk])).content.decode()
    assert f'href="/3d/?reuse={mesh.pk}"' in page
    assert ">Reuse settings</a>" in page


def test_reuse_fills_the_3d_form_with_the_members_own_models_settings(alice_client, user, tmp_path):
    start = make_image(user, "a brass teapot, studio photo")
    mesh = made_with(make_mesh(user, tmp_path, "a brass teapot"), model="tripo:v3.1@0",
                     positivePrompt="a brass teapot", seed=11, numberResults=3,
                     inputs={"image": f"portal-image:{start.pk}"})

    form = alice_client.get(f"/3d/?reuse={mesh.pk}").content.decode()
    assert '<option value="tripo:v3.1@0" selected>' in form
    assert ">\na brass teapot</textarea>" in form
    assert f'<option value="{start.pk}" selected>' in form
    assert 'name="numberResults" value="3"' in form
    assert 'name="seed" value="5"' in form  # this model's own seed, to make it again
    assert "for 3 models" in form  # the estimate is for the settings shown
    assert NOT_AVAILABLE not in form


def test_reuse_leaves_out_a_starting_image_that_is_no_longer_the_members(alice_client, user, other_user, tmp_path):
    theirs = make_image(other_user, "someone else's picture")
    mesh = made_with(make_mesh(user, tmp_path, "a vase"), inputs={"image": f"portal-image:{theirs.pk}"})

    form = alice_client.get(f"/3d/?reuse={mesh.pk}").content.decode()
    assert ">\na vase</textarea>" in form
    assert str(theirs.pk) not in form and "someone else&#x27;s picture" not in form
    assert '<option value="" selected>None: from the prompt</option>' in form


def test_reuse_never_gives_another_members_settings(alice_client, user, other_user, tmp_path):
    theirs = made_with(make_mesh(other_user, tmp_path, "a secret plan"), seed=987654)

    response = alice_client.get(f"/3d/?reuse={theirs.pk}")
    body = response.content.decode()
    assert response.status_code == 200
    assert "a secret plan" not in body and "987654" not in body
    assert NOT_AVAILABLE in body


def test_reuse_of_something_not_a_3d_model_is_explained(alice_client, user, tmp_path):
    for url in (f"/3d/?reuse={make_image(user).pk}", "/3d/?reuse=not-an-id"):
        body = alice_client.get(url).content.decode()
        assert NOT_AVAILABLE in body, url
    assert NOT_AVAILABLE not in alice_client.get("/3d/").content.decode()
