"""Hostile uploads are refused with a clear message, through every upload endpoint of the portal;
accepted ones are stored as their picture only.

Endpoints: the studio's input-image upload (htmx), the studio's no-JavaScript form (files sent with
the generation), and the tools page's upload. A refused file stores nothing and starts nothing. An
accepted file is stored re-encoded from its pixels: nothing after the image's end, no EXIF.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import os
import struct
import zlib
from typing import Any
from unittest import mock

import pytest
from daphne import http_protocol
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.urls import URLResolver, get_resolver, reverse
from PIL import Image as PILImage
from PIL import ImageCms, ImageStat

from runware_web.asgi import application
from runware_web.media.models import Image
from runware_web.media.uploads import check_image_bytes
from runware_web.upstream.models import Task
from tests.hardening.helpers import png_bytes
from tests.images import decoded, encoded, jpeg_bytes, mpo_bytes, with_trailing_zip

pytestmark = pytest.mark.django_db(transaction=True)

NOT_AN_IMAGE = "not an image we can read"


# ------------------------------------------------------------------------------------ hostile files


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb(side: int = 20_000) -> bytes:
    """A real PNG of side×side black pixels: a few dozen KB that decode to hundreds of MB."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + one bit per pixel
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def too_many_pixels() -> bytes:
    """Under Pillow's own bomb limit, over the portal's megapixel limit (a real, tiny PNG)."""
    side = int((settings.UPLOAD_MAX_PIXELS * 1.2) ** 0.5)
    return decompression_bomb(side)


def gif_html_polyglot() -> bytes:
    """A valid GIF that is also an HTML page (the script sits in a comment block)."""
    out = io.BytesIO()
    PILImage.new("P", (16, 16)).save(out, format="GIF", comment=b"<html><script>alert(1)</script></html>")
    return out.getvalue()


def huge_file() -> bytes:
    return png_bytes() + b"\x00" * settings.UPLOAD_MAX_BYTES


def claiming_size(mpo: bytes, frame: int, width: int, height: int) -> bytes:
    """An MPO whose picture number `frame` says it is width×height (a bomb's size); nothing else changes."""
    position = 0
    for entry in decoded(mpo).mpinfo[0xB002][:frame]:  # Pillow writes the pictures one after another
        position += entry["Size"]
    position += 2  # after the picture's SOI, its segments: marker, then a length that counts itself
    while mpo[position:position + 2] != b"\xff\xc0":  # SOF0, where a baseline JPEG gives its size
        position += 2 + struct.unpack(">H", mpo[position + 2:position + 4])[0]
    return mpo[:position + 5] + struct.pack(">HH", height, width) + mpo[position + 9:]


def depth_map() -> PILImage.Image:
    return PILImage.new("L", (32, 24), 128)


def mpo_bomb() -> bytes:
    """A phone photo with a depth map, whose first picture claims to be 20000×20000."""
    return claiming_size(mpo_bytes(PILImage.new("RGB", (64, 48), (200, 30, 30)), depth_map()), 0, 20_000, 20_000)


REFUSED = {
    "a text file": ("notes.txt", b"just some notes, not a picture\n", "text/plain", NOT_AN_IMAGE),
    "a text file named .png": ("picture.png", b"<html>not really a png</html>", "image/png", NOT_AN_IMAGE),
    "an executable named .jpg": ("photo.jpg", b"MZ\x90\x00" + b"\x00" * 200, "image/jpeg", NOT_AN_IMAGE),
    "a truncated PNG": ("cut.png", png_bytes()[:120], "image/png", NOT_AN_IMAGE),
    "a GIF/HTML polyglot": ("cat.gif", gif_html_polyglot(), "image/gif", "GIF images are not accepted"),
    "an SVG with a script": ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
                             "image/svg+xml", NOT_AN_IMAGE),
    "a decompression bomb": ("bomb.png", decompression_bomb(), "image/png", "too large to decode safely"),
    "a multi-picture JPEG bomb": ("bomb.jpg", mpo_bomb(), "image/jpeg", "too large to decode safely"),
    "too many pixels": ("wide.png", too_many_pixels(), "image/png", "megapixels are accepted"),
    "a huge file": ("huge.png", huge_file(), "image/png", "the largest accepted is"),
}


# ------------------------------------------------------------------------------------ the endpoints


GENERATION = {"positivePrompt": "a lighthouse at dusk", "model": "runware:101@1", "width": "256", "height": "256",
              "numberResults": "1", "outputFormat": "PNG"}

ENDPOINTS: dict[str, tuple[str, dict[str, str], str]] = {  # URL name, the form's other fields, the file's field
    "studio upload": ("studio:upload", {"target": "seedImage"}, "seedImage_file"),
    "studio form": ("studio:generate", GENERATION, "seedImage_file"),
    "tools upload": ("tools:upload", {}, "image"),
    "video frame": ("video:upload_frame", {"model": "bytedance:seedance@2.0-fast"}, "firstFrameUpload"),
    "3d image": ("threed:upload_image", {"model": "tencent:hunyuan-3d@3.1-rapid"}, "imageUpload"),
}


def post_upload(client, endpoint: str, upload: SimpleUploadedFile) -> Any:
    """The POST a member's browser sends with the file (a coroutine with an AsyncClient)."""
    url_name, fields, file_field = ENDPOINTS[endpoint]
    return client.post(reverse(url_name), {**fields, file_field: upload})


def send(client, endpoint: str, upload: SimpleUploadedFile) -> tuple[int, str]:
    response = post_upload(client, endpoint, upload)
    return response.status_code, response.content.decode()


def views_reading_files() -> set[str]:
    """Every routed view whose code reads uploaded files."""
    found = set()

    def walk(patterns: list, names: list[str]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, [*names, pattern.namespace] if pattern.namespace else names)
            elif pattern.name and names[:1] != ["admin"]:
                try:
                    source = inspect.getsource(inspect.unwrap(pattern.callback))
                except (OSError, TypeError):
                    continue
                if "request.FILES" in source:
                    found.add(":".join([*names, pattern.name]))

    walk(get_resolver().url_patterns, [])
    return found


UPLOAD_VIEWS = {
    "studio:upload": "studio upload", "studio:generate": "studio form", "tools:upload": "tools upload",
    "video:upload_frame": "video frame", "threed:upload_image": "3d image",
}


def test_every_upload_endpoint_is_covered():
    assert views_reading_files() == set(UPLOAD_VIEWS)
    assert set(UPLOAD_VIEWS.values()) == set(ENDPOINTS)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_hostile_file_is_refused_with_a_clear_message(alice_client, user, endpoint, kind):
    name, data, content_type, message = REFUSED[kind]
    status, html = send(alice_client, endpoint, SimpleUploadedFile(name, data, content_type=content_type))

    assert status in {200, 400}  # the form again, never a server error
    assert message in html, f"{kind} through {endpoint}: no {message!r} in the answer"
    if endpoint == "studio form":
        assert "a lighthouse at dusk" in html, "what was typed is kept"
    assert not Image.objects.filter(user=user).exists()
    assert not Task.objects.filter(user=user).exists()


@pytest.mark.parametrize("endpoint", ["studio upload", "tools upload"])
def test_a_png_named_jpg_is_decoded_and_accepted_as_png(alice_client, user, endpoint):
    status, html = send(alice_client, endpoint, SimpleUploadedFile("holiday.jpg", png_bytes(), "image/jpeg"))
    assert status in {200, 302}
    image = Image.objects.get(user=user)
    assert (image.content_type, image.width, image.height) == ("image/png", 96, 64)
    assert image.file.name.endswith(".png")


# ------------------------------------------------------------------ what an accepted file is stored as

ZIP_SIGNATURE = b"PK\x03\x04"
GPS, MAKE, ORIENTATION = 0x8825, 0x010F, 0x0112


@pytest.fixture
async def alice_async(async_client, user):
    await async_client.aforce_login(user)
    return async_client


async def stored_and_served(client, upstream, endpoint: str, upload: SimpleUploadedFile) -> tuple[Image, bytes]:
    """Upload through `endpoint`; the image the portal kept and the bytes its file URL serves.

    The studio form also starts a generation with the upload as its seed image: it is waited for.
    """
    response = await post_upload(client, endpoint, upload)
    assert response.status_code in {200, 302}, response.content.decode()[:500]
    if endpoint == "studio form":
        await upstream.wait((await Task.objects.aget()).pk)
    image = await Image.objects.aget(kind=Image.Kind.UPLOADED)
    served = await client.get(reverse("gallery:file", args=[image.pk]))
    assert served.status_code == 200
    return image, b"".join(served.streaming_content)


def photo_exif(*, orientation: int = 1) -> bytes:
    """What a phone writes into a photo: its make, where it was taken and which way it was held."""
    exif = PILImage.Exif()
    exif[MAKE] = "Pixel"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS).update({1: "N", 2: (48.0, 51.0, 29.6), 3: "E", 4: (2.0, 17.0, 40.2)})
    return exif.tobytes()


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("picture", [png_bytes, jpeg_bytes], ids=["png", "jpeg"])
async def test_an_image_with_a_trailing_archive_is_kept_without_it(alice_async, upstream, endpoint, picture):
    """Accepted, because phones append data to photos (a Pixel "motion photo" is a JPEG and then
    its video); but what the portal serves is the picture alone, with no zip for a browser or an
    unzip tool to find in it."""
    original = picture()
    upload = SimpleUploadedFile("innocent.png", with_trailing_zip(original), "image/png")
    image, served = await stored_and_served(alice_async, upstream, endpoint, upload)

    assert ZIP_SIGNATURE not in served
    kept = decoded(served)
    assert (kept.format, kept.size) == (decoded(original).format, decoded(original).size)
    assert (image.width, image.height, image.size_bytes) == (*kept.size, len(served))


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_a_photos_location_is_not_kept_but_its_colour_profile_is(alice_async, upstream, endpoint):
    profile = srgb_profile()
    photo = jpeg_bytes(exif=photo_exif(), icc_profile=profile, comment=b"<script>alert(1)</script>")
    assert decoded(photo).getexif().get_ifd(GPS)  # the upload does say where it was taken

    _, served = await stored_and_served(alice_async, upstream, endpoint, SimpleUploadedFile("me.jpg", photo))

    kept = decoded(served)
    assert not kept.getexif() and "exif" not in kept.info
    assert b"Pixel" not in served and b"<script>" not in served
    assert kept.info.get("icc_profile") == profile


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("container", ["JPEG", "MPO"], ids=["jpeg", "with a depth map"])
async def test_a_photo_taken_sideways_is_stored_upright(alice_async, upstream, endpoint, container):
    """A phone held upright stores the sensor's sideways picture with EXIF orientation 6 ("turn
    90° clockwise to show"); the portal stores the picture as it is meant to be seen."""
    upright = PILImage.new("RGB", (48, 64), (40, 90, 220))  # sky above…
    upright.paste((40, 160, 40), (0, 32, 48, 64))  # …grass below
    sideways = upright.transpose(PILImage.Transpose.ROTATE_90)  # as the sensor saw it: 64×48
    options = {"quality": 95, "exif": photo_exif(orientation=6)}
    photo = encoded(sideways, "JPEG", **options) if container == "JPEG" else mpo_bytes(sideways, depth_map(), **options)

    image, served = await stored_and_served(alice_async, upstream, endpoint, SimpleUploadedFile("tall.jpg", photo))

    kept = decoded(served)
    assert kept.size == (image.width, image.height) == (48, 64)
    assert ORIENTATION not in kept.getexif()  # nothing left for a viewer to turn a second time
    sky, grass = kept.getpixel((24, 8)), kept.getpixel((24, 56))
    assert sky[2] > 180 and grass[1] > 120 and grass[2] < 100, (sky, grass)


def translucent(image_format: str) -> bytes:
    """A picture whose every pixel has its own colour and opacity (some fully transparent)."""
    picture = PILImage.frombytes("RGBA", (32, 24), os.urandom(32 * 24 * 4))
    return encoded(picture, image_format, **({"lossless": True, "exact": True} if image_format == "WEBP" else {}))


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("image_format", ["PNG", "WEBP"], ids=["png", "lossless webp"])
async def test_a_transparent_image_keeps_its_exact_pixels(alice_async, upstream, endpoint, image_format):
    original = translucent(image_format)
    upload = SimpleUploadedFile(f"cutout.{image_format.lower()}", original)
    _, served = await stored_and_served(alice_async, upstream, endpoint, upload)

    kept = decoded(served)
    assert (kept.format, kept.mode) == (image_format, "RGBA")
    assert kept.tobytes() == decoded(original).tobytes()


# --------------------------------------------------- photos holding more pictures (CIPA "MPO" files)


def stored_as_plain_jpeg(image: Image, served: bytes) -> PILImage.Image:
    """The served file, checked to be one JPEG picture: no second one, no multi-picture index."""
    kept = decoded(served)
    assert (kept.format, getattr(kept, "n_frames", 1)) == ("JPEG", 1)
    assert served.count(b"\xff\xd8") == 1 and b"MPF\x00" not in served  # one start of image, no index
    assert (image.content_type, image.width, image.height, image.size_bytes) == ("image/jpeg", *kept.size, len(served))
    assert image.file.name.endswith(".jpg")
    return kept


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_a_photo_with_a_second_picture_is_kept_as_a_jpeg_of_its_first(alice_async, upstream, endpoint):
    """Phones write a gain map or a depth map into their photos, 3D cameras a second view, all in
    the CIPA multi-picture format (Pillow's "MPO"). It is the member's photo: accepted as a JPEG,
    and stored as its first picture alone."""
    photo = mpo_bytes(PILImage.new("RGB", (64, 48), (220, 30, 30)), PILImage.new("RGB", (32, 24), (30, 30, 220)))
    upload = SimpleUploadedFile("PXL_20261121_101500.jpg", photo, "image/jpeg")
    image, served = await stored_and_served(alice_async, upstream, endpoint, upload)

    kept = stored_as_plain_jpeg(image, served)
    assert kept.size == (64, 48)  # the first picture's, not the second's 32×24
    red, green, blue = ImageStat.Stat(kept).mean
    assert red > 200 and green < 50 and blue < 50, (red, green, blue)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_only_the_first_picture_of_a_photo_is_ever_decoded(alice_async, upstream, endpoint):
    """Its second picture claims a bomb's size: opening it would refuse the photo (or decode 400
    megapixels). The photo is stored, so nothing past its first picture was opened."""
    photo = claiming_size(mpo_bytes(PILImage.new("RGB", (64, 48), (220, 30, 30)), depth_map()), 1, 20_000, 20_000)
    image, served = await stored_and_served(alice_async, upstream, endpoint, SimpleUploadedFile("3d.jpg", photo))

    assert stored_as_plain_jpeg(image, served).size == (64, 48)


def test_a_photos_first_picture_is_stored_as_the_same_photo_alone_would_be():
    """Its own quantization tables are kept (as for any JPEG that is not turned), so a phone's
    photo is not re-encoded at another quality because it carries a gain map."""
    picture = PILImage.frombytes("RGB", (48, 32), os.urandom(48 * 32 * 3)).resize((192, 128))
    alone = check_image_bytes(encoded(picture, "JPEG", quality=80))
    with_map = check_image_bytes(mpo_bytes(picture, depth_map(), quality=80))

    assert (with_map.content_type, with_map.width, with_map.height) == ("image/jpeg", 192, 128)
    assert with_map.data == alone.data


# ------------------------------------------------------------------------------------ the size limit, at the door


BOUNDARY = "upload-boundary"
CSRF = "abcdefghijklmnopqrstuvwxyz012345"  # a CSRF secret's shape: cookie and header agree


class Body:
    """An upload's body, handed to the ASGI application in 1 MiB messages; counts what was asked for."""

    def __init__(self, fields: dict[str, str], file_field: str, data: bytes, *, extra: int = 0) -> None:
        head = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                       for name, value in fields.items())
        head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="big.png"\r\n'
                 "Content-Type: image/png\r\n\r\n")
        self.bytes = head.encode() + data + b"\0" * extra + f"\r\n--{BOUNDARY}--\r\n".encode()
        self.given = 0

    async def receive(self) -> dict[str, Any]:
        if self.given >= len(self.bytes):
            await asyncio.Event().wait()  # the client stays connected while the response is sent
        piece = self.bytes[self.given:self.given + 1024 * 1024]
        self.given += len(piece)
        return {"type": "http.request", "body": piece, "more_body": self.given < len(self.bytes)}


async def through_the_asgi_app(client, endpoint: str, body: Body, *, content_length: bool = True,
                               htmx: bool = False) -> tuple[int, dict[bytes, bytes], str]:
    """The request as Daphne hands it to the portal's ASGI application: status, headers, body."""
    path, fields, _ = ENDPOINTS[endpoint]
    headers = [(b"host", b"testserver"),
               (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
               (b"cookie", f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF}".encode()),
               (b"x-csrftoken", CSRF.encode())]
    if content_length:
        headers.append((b"content-length", str(len(body.bytes)).encode()))
    if htmx:
        headers.append((b"hx-request", b"true"))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": reverse(path), "raw_path": reverse(path).encode(), "root_path": "", "query_string": b"",
             "headers": headers, "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(scope, body.receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    content = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content.decode()


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_an_upload_declared_over_the_limit_is_refused_before_its_body_is_read(logged_in, endpoint):
    body = Body(ENDPOINTS[endpoint][1], ENDPOINTS[endpoint][2], png_bytes(), extra=settings.REQUEST_MAX_BYTES)

    status, headers, page = await through_the_asgi_app(logged_in, endpoint, body)

    assert status == 413
    assert body.given == 0  # not one byte of the body was asked for
    assert "is too large" in page and filesizeformat(settings.UPLOAD_MAX_BYTES) in page
    assert "Choose a smaller image" in page and "Back button returns to the form" in page
    assert await Image.objects.acount() == 0


async def test_htmx_hears_of_a_refused_upload_in_a_toast_and_keeps_its_form(logged_in):
    body = Body({"target": "seedImage"}, "seedImage_file", png_bytes(), extra=settings.REQUEST_MAX_BYTES)

    status, headers, fragment = await through_the_asgi_app(logged_in, "studio upload", body, htmx=True)

    assert status == 413
    assert headers[b"hx-reswap"] == b"none"  # nothing on the page is replaced: what was typed stays
    assert 'hx-swap-oob="beforeend:#toasts"' in fragment and 'role="alert"' in fragment
    assert "<html" not in fragment and "Choose a smaller image" in fragment


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
async def test_an_upload_without_a_length_is_cut_off_once_it_passes_the_limit(logged_in, endpoint):
    over = 3 * settings.REQUEST_MAX_BYTES
    body = Body(ENDPOINTS[endpoint][1], ENDPOINTS[endpoint][2], png_bytes(), extra=over)

    status, _, page = await through_the_asgi_app(logged_in, endpoint, body, content_length=False)

    assert status == 413
    assert body.given <= settings.REQUEST_MAX_BYTES + 1024 * 1024  # read up to the limit, not to the end
    assert "passed" in page and "Nothing was stored" in page
    assert await Image.objects.acount() == 0


@pytest.mark.parametrize("endpoint", ["studio upload", "tools upload"])
async def test_an_upload_at_the_limit_is_still_accepted(logged_in, endpoint):
    picture = png_bytes()
    data = picture + b"\0" * (settings.UPLOAD_MAX_BYTES - len(picture))  # exactly the limit
    body = Body(ENDPOINTS[endpoint][1], ENDPOINTS[endpoint][2], data)

    status, _, html = await through_the_asgi_app(logged_in, endpoint, body)

    assert status in {200, 302}, html  # the studio's widget, or the tools page of the image
    stored = await Image.objects.aget()
    assert stored.size_bytes < len(data)  # the picture only, the padding dropped


def test_daphne_leaves_form_bodies_to_django():
    """Twisted would parse every form body into memory itself (13 copies of an upload, measured by
    benchmarks/upload_memory.py); Daphne never reads what it parsed."""
    channel = mock.Mock()

    request = http_protocol.WebRequest(channel)

    assert request._parsePOSTFormSubmission is False
