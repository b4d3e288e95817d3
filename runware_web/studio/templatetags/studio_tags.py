"""The studio's own template filter (money and durations use the portal's builtin filters)."""

from __future__ import annotations

from uuid import UUID

from django import template

from runware_web.media.models import Image

register = template.Library()


@register.filter
def as_uuid(value: object) -> str:
    """The value if it is a UUID (an image id), else "" (so no broken link is rendered)."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return ""


@register.simple_tag(takes_context=True)
def own_image_size(context: template.Context, image_id: object) -> str:
    """The size of one of the viewer's own images as "<width>x<height>" ("" otherwise): the page works
    out an outpainted result's size from its seed image's."""
    request = context.get("request")
    image_uuid = as_uuid(image_id)
    if request is None or not image_uuid or not request.user.is_authenticated:
        return ""
    size = Image.objects.filter(pk=image_uuid, user=request.user).values_list("width", "height").first()
    return f"{size[0]}x{size[1]}" if size else ""
