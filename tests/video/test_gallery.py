"""Videos are in the gallery with their poster frame, and the gallery filters images from videos."""

from __future__ import annotations

import av
import pytest
from PIL import Image as PILImage

from runware_web.media.models import Image
from runware_web.media.video import save_video
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def mp4_file(path, seconds: int = 2, fps: int = 12, size: tuple[int, int] = (96, 64)) -> str:
    """A real H.264 clip, made with PyAV as the simulator makes its videos."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(seconds * fps):
            picture = PILImage.new("RGB", size, ((index * 10) % 255, 80, 160))
            container.mux(stream.encode(av.VideoFrame.from_image(picture)))
        container.mux(stream.encode())
    return str(path)


@pytest.fixture
def video(user, tmp_path) -> Image:
    return save_video(
        user=user,
        path=mp4_file(tmp_path / "clip.mp4"),
        url="https://x/clip.mp4",
        prompt="a spinning top",
        model="bytedance:seedance@2.0-fast",
    )


def test_a_stored_video_keeps_its_size_duration_and_a_poster_frame(video):
    assert (video.width, video.height) == (96, 64)
    assert video.duration == pytest.approx(2, abs=0.2)
    assert video.content_type == "video/mp4" and video.file.name.endswith(".mp4")
    assert video.thumbnail.name.endswith(".webp") and video.thumbnail.size > 0


def test_the_gallery_shows_a_video_by_its_poster_and_filters_by_type(alice_client, user, video):
    picture = make_image(user, prompt="a still life")
    page = alice_client.get("/gallery/").content.decode()
    assert f"/gallery/{video.pk}/thumb" in page and "Video · 2 s" in page
    assert "a still life" in page

    videos_only = alice_client.get("/gallery/?media=video").content.decode()
    assert "a spinning top" in videos_only and "a still life" not in videos_only
    images_only = alice_client.get("/gallery/?media=image").content.decode()
    assert "a still life" in images_only and "a spinning top" not in images_only

    poster = alice_client.get(f"/gallery/{video.pk}/thumb")
    assert poster.status_code == 200 and poster["Content-Type"] == "image/webp"
    assert picture.media_type == Image.MediaType.IMAGE


def test_a_videos_page_plays_it_and_its_file_seeks(alice_client, video):
    page = alice_client.get(f"/gallery/{video.pk}/").content.decode()
    assert f'<video controls preload="metadata" playsinline src="/gallery/{video.pk}/file"' in page
    part = alice_client.get(f"/gallery/{video.pk}/file", HTTP_RANGE="bytes=100-")
    assert part.status_code == 206 and part["Content-Type"] == "video/mp4"
    assert part["Content-Range"] == f"bytes 100-{video.size_bytes - 1}/{video.size_bytes}"
