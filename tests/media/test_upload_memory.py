"""A large upload is checked and stored without copies of it piling up in a worker's memory.

The whole request is measured by benchmarks/upload_memory.py (a worker's peak RSS: 1.9× a 10 MB
upload, 4.25× before). These tests hold the parts of it that are the portal's own Python objects,
counted with tracemalloc (Pillow's pixels are not Python objects, so they are not counted here).
"""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from PIL import Image as PILImage
from PIL import ImageFile

from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.media.thumbnails import THUMBNAIL_SIZE
from runware_web.media.uploads import ImageUploadField

SIDE = 1400  # random pixels: a PNG of about 5.9 MB, over FILE_UPLOAD_MAX_MEMORY_SIZE (on disk, as Django keeps it)


@pytest.fixture(scope="module")
def noise_png() -> bytes:
    out = io.BytesIO()
    PILImage.frombytes("RGB", (SIDE, SIDE), os.urandom(SIDE * SIDE * 3)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def uploaded(data: bytes) -> TemporaryUploadedFile:
    """The upload as Django hands a large one to a view: a temporary file on disk."""
    upload = TemporaryUploadedFile("noise.png", "image/png", len(data), None)
    upload.write(data)
    upload.seek(0)
    return upload


def peak_python_memory(work):
    """What `work()` returns, and the most memory its Python objects held at once."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checking_a_large_upload_holds_one_copy_of_it_at_most(noise_png):
    """The upload is read as it is decoded and its new encoding spooled to disk: only the new encoding
    is ever held whole. Reading the upload into memory, or encoding into memory and then copying it,
    would each hold twice as much."""
    upload = uploaded(noise_png)
    checked, peak = peak_python_memory(lambda: ImageUploadField().clean(upload))

    assert (checked.width, checked.height, checked.content_type) == (SIDE, SIDE, "image/png")
    assert len(checked.data) > len(noise_png) * 0.95  # random pixels do not compress: the size is real
    assert peak < 1.4 * len(noise_png), f"{peak / len(noise_png):.2f} × the upload"


@pytest.mark.django_db
def test_an_upload_is_stored_with_the_thumbnail_its_check_made_and_not_decoded_again(user, noise_png, monkeypatch):
    checked = ImageUploadField().clean(uploaded(noise_png))
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("the stored upload was decoded again"))

    image = save_image(user=user, data=checked.data, kind=Image.Kind.UPLOADED, original_name=checked.name,
                       thumbnail=checked.thumbnail)

    monkeypatch.undo()
    assert (image.width, image.height, image.content_type) == (SIDE, SIDE, "image/png")
    with image.thumbnail.open("rb") as handle, PILImage.open(handle) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("WEBP", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
