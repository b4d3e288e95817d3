"""Stored files are served with HTTP Range support, so a browser can seek in a video."""

from __future__ import annotations

import pytest

from runware_web.media.models import Image
from runware_web.media.store import save_image
from tests.gallery.factories import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(user) -> Image:
    return save_image(user=user, data=png_bytes(size=(300, 200)))


def whole(client, image: Image) -> bytes:
    return b"".join(client.get(f"/gallery/{image.pk}/file").streaming_content)


def test_a_range_gets_206_with_only_those_bytes_and_its_content_range(alice_client, image):
    data = whole(alice_client, image)
    response = alice_client.get(f"/gallery/{image.pk}/file", HTTP_RANGE="bytes=10-99")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-99/{len(data)}"
    assert response["Content-Length"] == "90"
    assert b"".join(response.streaming_content) == data[10:100]


def test_open_ended_and_suffix_ranges_are_honoured(alice_client, image):
    data = whole(alice_client, image)
    tail = alice_client.get(f"/gallery/{image.pk}/file", HTTP_RANGE="bytes=-16")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == data[-16:]
    rest = alice_client.get(f"/gallery/{image.pk}/file", HTTP_RANGE=f"bytes={len(data) - 5}-")
    assert rest["Content-Range"] == f"bytes {len(data) - 5}-{len(data) - 1}/{len(data)}"
    assert b"".join(rest.streaming_content) == data[-5:]


def test_a_range_past_the_end_gets_416_with_the_size(alice_client, image):
    size = len(whole(alice_client, image))
    response = alice_client.get(f"/gallery/{image.pk}/file", HTTP_RANGE=f"bytes={size}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


def test_without_a_range_the_whole_file_comes_and_says_it_takes_ranges(alice_client, image):
    response = alice_client.get(f"/gallery/{image.pk}/file")
    assert response.status_code == 200 and response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_another_members_file_is_404_whatever_the_range(client, other_user, image):
    client.force_login(other_user)
    assert client.get(f"/gallery/{image.pk}/file", HTTP_RANGE="bytes=0-9").status_code == 404
