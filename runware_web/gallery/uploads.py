"""Checking images that members upload, before anything is stored or sent to Runware."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    name: str


def check_image_bytes(data: bytes, *, name: str = "upload") -> CheckedImage:
    """Decode the image for real (never trust the extension or the browser's content type)."""
    if len(data) > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            f"This file is {filesizeformat(len(data))}; the largest accepted is "
            f"{filesizeformat(settings.UPLOAD_MAX_BYTES)}.",
            code="too_large",
        )
    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            image_format = probe.format
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
        with PILImage.open(io.BytesIO(data)) as full:
            full.load()  # verify() does not decode the pixels; a truncated file fails here
    except ValidationError:
        raise
    except PILImage.DecompressionBombError:
        raise ValidationError("This image is too large to decode safely.", code="too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            "This file is not an image we can read: upload a PNG, JPEG or WebP image.", code="not_an_image"
        ) from None
    return CheckedImage(
        data=data, content_type=ALLOWED_FORMATS[image_format], width=width, height=height, name=name[:255]
    )


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
        return check_image_bytes(uploaded.read(settings.UPLOAD_MAX_BYTES + 1), name=uploaded.name or "upload")
