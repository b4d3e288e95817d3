"""History names every kind the portal runs, and counts each task's results as what they are."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from runware_web.media.models import Image
from tests.gallery.factories import make_image, make_task

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("task_type, feature, media_type, kind, results", [
    ("videoInference", "video", Image.MediaType.VIDEO, "Video", "2 videos"),
    ("audioInference", "audio", Image.MediaType.AUDIO, "Audio", "2 clips"),
    ("3dInference", "threed", Image.MediaType.MODEL_3D, "3D model", "2 3D models"),
    ("imageInference", "studio", Image.MediaType.IMAGE, "Image generation", "2 images"),
])
def test_each_kind_shows_its_name_status_duration_cost_and_results(alice_client, user, task_type, feature,
                                                                   media_type, kind, results):
    start = timezone.now() - timedelta(minutes=3)
    task = make_task(user, task_type=task_type, feature=feature, model="vendor:1@1", started_at=start,
                     finished_at=start + timedelta(seconds=95), cost=Decimal("0.1830000000"))
    for _ in range(2):
        make_image(user, task=task, media_type=media_type)
    body = alice_client.get(reverse("history:index"), {"taskType": task_type}).content.decode()
    for text in (kind, "status-done", "1 min 35 s", "$0.183", f'?task={task.pk}">{results}</a>'):
        assert text in body, text
