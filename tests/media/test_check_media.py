"""`manage.py check_media`: what an operator runs after a restore, a migration of the media, or a
missing-file error: it names images whose file is gone and files no image owns, on the local folder
and on an S3 bucket alike, and fails (exit code 1) when there is any."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.gallery.factories import make_image
from tests.gallery.test_bucket import bucket  # noqa: F401 (the S3 set-up, over moto)

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_media(settings, tmp_path):
    """A media folder of this test's own (the session's holds other tests' files)."""
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture(params=["local folder", "S3 bucket"])
def media(request):
    request.getfixturevalue("local_media" if request.param == "local folder" else "bucket")


def check_media(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_media", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def test_a_store_where_rows_and_files_agree_passes(media, user):
    make_image(user)
    make_image(user, deleted_at=timezone.now())  # in the trash: its files are still owned

    code, report = check_media()

    assert code == 0
    assert "Checked 2 images and 4 files" in report


def test_rows_without_files_and_files_without_rows_are_listed_and_fail(media, user):
    kept = make_image(user, "kept")
    lost = make_image(user, "lost")
    default_storage.delete(lost.file.name)
    stray = default_storage.save(f"images/{user.pk}/2026/01/left-behind.png", ContentFile(b"not anyone's"))

    code, report = check_media("--grace", "0")

    assert code == 1
    assert f"image {lost.pk} of {user.username}: its file {lost.file.name} is missing" in report
    assert stray in report.split("Files without rows")[1]
    assert str(kept.pk) not in report
    assert "1 missing, 1 without a row" in report


def test_a_file_written_moments_ago_is_not_called_an_orphan(media, user):
    default_storage.save(f"images/{user.pk}/2026/01/being-saved.png", ContentFile(b"its row comes next"))

    code, report = check_media()

    assert code == 0, report
