from __future__ import annotations

from django.http import FileResponse, HttpRequest
from django.views.decorators.http import require_safe

from runware_web.gallery.access import get_image_for_viewer


@require_safe
def image_file(request: HttpRequest, image_id) -> FileResponse:
    image = get_image_for_viewer(request.user, image_id)
    response = FileResponse(image.file.open("rb"), content_type=image.content_type)
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_safe
def image_thumbnail(request: HttpRequest, image_id) -> FileResponse:
    image = get_image_for_viewer(request.user, image_id)
    response = FileResponse(image.thumbnail.open("rb"), content_type="image/webp")
    response["Cache-Control"] = "private, max-age=86400"
    return response
