from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from runware_web.media.models import Image
from runware_web.tools import services
from runware_web.tools.forms import IMAGE_TOOLS, ImageToolForm

register = template.Library()


@register.simple_tag(takes_context=True)
def tool_forms(context: template.Context, image: Image, bound_form: ImageToolForm | None = None) -> list[ImageToolForm]:
    """Every tool's form for one of the member's images; `bound_form` (with its errors) replaces its tool's."""
    return [
        bound_form if bound_form is not None and bound_form.task_type == task_type
        else form_class(initial={"image": image.pk}, user=context["request"].user)
        for task_type, form_class in IMAGE_TOOLS.items()
    ]


@register.simple_tag(takes_context=True)
def tool_runs(context: template.Context, image: Image) -> list:
    """What the member's tools made from an image, newest first."""
    return services.runs_for_image(context["request"].user, image)


@register.filter
def gallery_url(image: Image) -> str:
    """The image's page in the gallery."""
    for name in ("gallery:detail", "gallery:image"):
        try:
            return reverse(name, args=[image.pk])
        except NoReverseMatch:
            continue
    return f"/gallery/{image.pk}/"
