"""Whether a task's output is stored: what a worker taking over a dead one's task asks of the store."""

from __future__ import annotations

import pytest

from runware_web.media.store import has_output
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def test_an_output_with_its_file_is_stored(user):
    image = make_image(user, runware_uuid="7f3e-runware")
    assert has_output(image.task_id, "7f3e-runware")


def test_an_output_whose_file_went_missing_is_not_stored(user):
    image = make_image(user, runware_uuid="7f3e-runware")
    image.file.storage.delete(image.file.name)
    assert not has_output(image.task_id, "7f3e-runware")


def test_another_output_of_the_task_is_not_stored(user):
    image = make_image(user, runware_uuid="7f3e-runware")
    assert not has_output(image.task_id, "a91c-runware")
    assert not has_output(image.task_id, "")
