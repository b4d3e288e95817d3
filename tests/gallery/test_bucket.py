"""Media in an S3-compatible bucket, the at-scale set-up (moto's S3, in process).

Images are stored privately in the bucket. The portal checks access first, then sends the browser
to a signed URL that expires: the bucket serves the bytes, not a Daphne worker.
"""

from __future__ import annotations

import io
import runpy
import zipfile
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from django.urls import reverse
from moto import mock_aws

import runware_web.settings as portal_settings
from tests.gallery.factories import make_image, png_bytes

BUCKET = "portal-media"
pytestmark = pytest.mark.django_db


@pytest.fixture
def bucket(settings, monkeypatch):
    """The default storage as the portal configures it for RUNWARE_WEB_S3_BUCKET, over moto's S3."""
    for name, value in {"BUCKET": BUCKET, "REGION": "us-east-1", "ACCESS_KEY_ID": "test",
                        "SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(f"RUNWARE_WEB_S3_{name}", value)
    configured = runpy.run_path(portal_settings.__file__)["STORAGES"]["default"]  # read afresh
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        settings.STORAGES = {**settings.STORAGES, "default": configured}
        yield s3


def test_an_image_is_kept_privately_in_the_bucket(bucket, user):
    image = make_image(user)

    stored = bucket.get_object(Bucket=BUCKET, Key=image.file.name)["Body"].read()
    assert stored == png_bytes()
    grants = bucket.get_object_acl(Bucket=BUCKET, Key=image.file.name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner's only: no public read
    assert requests.get(f"https://{BUCKET}.s3.amazonaws.com/{image.file.name}").status_code == 403


def test_the_original_is_fetched_from_the_bucket_through_a_url_that_expires(bucket, alice_client, user):
    image = make_image(user)

    response = alice_client.get(reverse("gallery:file", args=[image.pk]))

    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == ["600"] and "X-Amz-Signature" in query
    assert "max-age=300" in response["Cache-Control"]  # never cached past the URL's life
    fetched = requests.get(response["Location"])
    assert fetched.content == png_bytes() and fetched.headers["Content-Type"] == "image/png"


def test_a_download_from_the_bucket_keeps_its_recognisable_name(bucket, alice_client, user):
    image = make_image(user, "a lighthouse at dusk")

    response = alice_client.get(reverse("gallery:download", args=[image.pk]))

    assert response.status_code == 302
    fetched = requests.get(response["Location"])
    assert fetched.content == png_bytes()
    assert fetched.headers["Content-Disposition"] == f'attachment; filename="a-lighthouse-at-dusk-{image.pk.hex[:8]}.png"'


def test_another_members_image_gives_no_url(bucket, alice_client, other_user):
    image = make_image(other_user)
    for name in ("gallery:file", "gallery:download", "gallery:thumb"):
        response = alice_client.get(reverse(name, args=[image.pk]))
        assert response.status_code == 404 and "Location" not in response


def test_thumbnails_and_zips_come_through_the_portal_from_the_bucket(bucket, alice_client, user):
    images = [make_image(user, "a lighthouse"), make_image(user, "a castle")]

    thumbnail = alice_client.get(reverse("gallery:thumb", args=[images[0].pk]))
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    archive = alice_client.post(reverse("gallery:selection"), {"action": "zip", "ids": [str(i.pk) for i in images]})
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as opened:
        assert sorted(opened.read(name) for name in opened.namelist()) == [png_bytes(), png_bytes()]
