"""Checking images that members upload, before anything is stored or sent to Runware."""

from __future__ import annotations

import io
import struct
import tempfile
from dataclasses import dataclass
from typing import IO, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from PIL import ExifTags, ImageOps, JpegImagePlugin
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from runware_web.media.thumbnails import make_thumbnail

ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# What Pillow calls a JPEG file that holds more pictures after its own (CIPA "MPO"): a phone's
# depth map or gain map, a 3D camera's second view. It is a JPEG; its first picture is the photo.
JPEG_FAMILY = {"MPO": "JPEG"}

# Re-encoding a lossy upload costs a little quality once; at 95 the difference is not visible.
JPEG_QUALITY = 95
WEBP_QUALITY = 95
TURNING_ORIENTATIONS = {2, 3, 4, 5, 6, 7, 8}  # EXIF orientations that `exif_transpose` applies


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    name: str
    #: Made from the pixels the check decoded: storing the image decodes nothing again.
    thumbnail: bytes


def check_image_bytes(data: bytes, *, name: str = "upload") -> CheckedImage:
    """`check_image` of an image held in memory."""
    return check_image(io.BytesIO(data), name=name)


def check_image(source: IO[bytes], *, name: str = "upload") -> CheckedImage:
    """Decode an uploaded image for real and keep a fresh encoding of its pixels, nothing else.

    Never trust the extension or the browser's content type. The image is decoded, turned upright
    (EXIF orientation) and encoded again in its own format, so what is stored and later served is
    only the picture:
    - no bytes after the image's end. A PNG or JPEG with a zip or an HTML page appended (a
      polyglot) loses it. Such files are not refused, because phones append data legitimately (a
      Pixel "motion photo" is a JPEG followed by its video): the member keeps the photo.
    - no metadata: EXIF (a phone photo's GPS location, camera serial numbers), XMP, comments and
      text chunks are dropped. Only the colour profile (ICC, and a PNG's gAMA/cHRM/sRGB) is kept,
      so colours do not change.
    PNG and lossless WebP stay lossless with their mode (alpha, palette, 16-bit grey). A JPEG is
    encoded with its own quality settings, or at quality 95 when it had to be turned; a lossy WebP
    at quality 95. An animated PNG or WebP keeps its first frame only, and so does a JPEG that
    holds more pictures (an MPO: a phone's depth or gain map, a 3D camera's second view): it is
    stored as a plain JPEG of its first picture. Only the first picture is ever decoded, and the
    size checks are its size.

    Memory (benchmarks/upload_memory.py): the upload is read from `source` (Django's temporary file
    of a large upload) as Pillow decodes it, never copied whole; the new encoding is written to a
    temporary file (past FILE_UPLOAD_MAX_MEMORY_SIZE) and read back once the pixels are let go; and
    the thumbnail is made from the same pixels. A worker so holds the pixels, or the new encoding,
    never both, nor the upload beside them.

    Every caller is an upload (`ImageUploadField`). Runware's results do not come through here:
    `media.store.save_image` stores them as they were made, with no second lossy encoding.
    """
    size = source.seek(0, io.SEEK_END)
    if size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            f"This file is {filesizeformat(size)}; the largest accepted is "
            f"{filesizeformat(settings.UPLOAD_MAX_BYTES)}.",
            code="too_large",
        )
    try:
        source.seek(0)
        with PILImage.open(source) as probe:
            image_format = JPEG_FAMILY.get(probe.format or "", probe.format)
            width, height = probe.size
            if width * height > settings.UPLOAD_MAX_PIXELS:
                raise ValidationError(
                    f"This image is {width}×{height} pixels; at most "
                    f"{settings.UPLOAD_MAX_PIXELS / 1e6:.0f} megapixels are accepted.",
                    code="too_many_pixels",
                )
            if image_format not in ALLOWED_FORMATS:
                raise ValidationError(
                    f"{image_format or 'This'} images are not accepted: upload a PNG, JPEG or WebP image.",
                    code="bad_format",
                )
            probe.verify()
        source.seek(0)
        with PILImage.open(source) as full, _Spool() as encoded:
            full.load()  # verify() does not decode the pixels; a truncated file fails here
            width, height = _reencode(full, image_format, source, encoded)
            thumbnail = make_thumbnail(full)
            full.close()  # the pixels go before the new encoding is read into memory
            encoded.seek(0)
            stored = encoded.read()
    except ValidationError:
        raise
    except PILImage.DecompressionBombError:
        raise ValidationError("This image is too large to decode safely.", code="too_many_pixels") from None
    except OSError as exc:
        if exc.errno is not None:  # the system's (no room for the temporary file, a failing read), not the image's
            raise
        raise _not_an_image() from None
    except (SyntaxError, ValueError):
        raise _not_an_image() from None
    return CheckedImage(
        data=stored, content_type=ALLOWED_FORMATS[image_format], width=width, height=height, name=name[:255],
        thumbnail=thumbnail,
    )


def _not_an_image() -> ValidationError:
    return ValidationError(
        "This file is not an image we can read: upload a PNG, JPEG or WebP image.", code="not_an_image"
    )


class _Spool(tempfile.SpooledTemporaryFile):
    """Where a new encoding is written: memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then a temporary
    file where Django keeps uploads (as Django does with the upload itself)."""

    def __init__(self) -> None:
        super().__init__(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR)

    def fileno(self) -> int:
        # Pillow's JPEG encoder asks for one, which would move even a small encoding to disk: without
        # it, Pillow writes through write() as the other encoders do.
        raise io.UnsupportedOperation("fileno")


def _reencode(picture: PILImage.Image, image_format: str, source: IO[bytes], out: IO[bytes]) -> tuple[int, int]:
    """The decoded picture (the first frame), upright, encoded again as `image_format` into `out`; its size."""
    options: dict[str, Any] = {}
    if icc_profile := picture.info.get("icc_profile"):
        options["icc_profile"] = icc_profile
    if image_format == "PNG":
        if (transparency := picture.info.get("transparency")) is not None:
            options["transparency"] = transparency
        options["pnginfo"] = _png_colour_chunks(picture.info)
    elif image_format == "JPEG":
        # The photo's own quantization tables and subsampling re-encode it almost exactly and at
        # about its size. That is what quality="keep" does, spelled out because Pillow refuses
        # "keep" for an MPO's first picture (its format is "MPO", not "JPEG"); the output is the
        # same byte for byte. Once it is turned they no longer fit its blocks: measured on photos
        # saved at quality 75-85, quality 95 then comes out 4-9 dB PSNR closer.
        if picture.getexif().get(ExifTags.Base.Orientation, 1) not in TURNING_ORIENTATIONS:
            assert isinstance(picture, JpegImagePlugin.JpegImageFile)  # an MpoImageFile is one too
            options["qtables"] = picture.quantization
            options["subsampling"] = JpegImagePlugin.get_sampling(picture)
        else:
            options["quality"] = JPEG_QUALITY
            if (subsampling := JpegImagePlugin.get_sampling(picture)) != -1:
                options["subsampling"] = subsampling
    elif _is_lossless_webp(source):
        options.update(lossless=True, exact=True)  # exact: keep the colour of transparent pixels
    else:
        options["quality"] = WEBP_QUALITY
    ImageOps.exif_transpose(picture, in_place=True)  # in place: no second copy of a large picture
    picture.info = {}  # some encoders copy what is left here (a JPEG's comment, a PNG's profile)
    picture.save(out, format=image_format, **options)
    return picture.size


def _png_colour_chunks(info: dict[str, Any]) -> PngInfo:
    """A PNG's colour chunks other than its ICC profile, which Pillow reads but does not write back."""
    chunks = PngInfo()
    if isinstance(gamma := info.get("gamma"), float):
        chunks.add(b"gAMA", struct.pack(">I", round(gamma * 100_000)))
    if isinstance(chromaticity := info.get("chromaticity"), tuple) and len(chromaticity) == 8:
        chunks.add(b"cHRM", struct.pack(">8I", *(round(value * 100_000) for value in chromaticity)))
    if isinstance(intent := info.get("srgb"), int):
        chunks.add(b"sRGB", bytes([intent]))
    return chunks


def _is_lossless_webp(source: IO[bytes]) -> bool:
    """Whether a WebP file's (first) picture is lossless: a VP8L chunk, where a lossy one is VP8.
    Only the chunks' headers are read."""
    position = 12  # after "RIFF", the size and "WEBP"
    while True:
        source.seek(position)
        header = source.read(8)
        if len(header) < 8:
            return False
        kind, size = header[:4], int.from_bytes(header[4:], "little")
        if kind == b"VP8L":
            return True
        if kind == b"VP8 ":
            return False
        if kind == b"ANMF":  # an animation frame: its picture's chunks follow a 16-byte header
            position += 8 + 16
            continue
        position += 8 + size + (size & 1)


class ImageUploadField(forms.FileField):
    """A file field whose cleaned value is a CheckedImage."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        uploaded = super().clean(data, initial)
        if not uploaded:
            return uploaded
        if uploaded.size and uploaded.size > settings.UPLOAD_MAX_BYTES:
            raise ValidationError(
                f"This file is {filesizeformat(uploaded.size)}; the largest accepted is "
                f"{filesizeformat(settings.UPLOAD_MAX_BYTES)}.",
                code="too_large",
            )
        return check_image(uploaded, name=uploaded.name or "upload")  # read as it is decoded, not copied whole
