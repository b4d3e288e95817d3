"""Who may see an image: its owner, and their team when they shared it. Anyone else gets 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404

from runware_web.accounts.models import User
from runware_web.media.models import Image


def viewable_images(user: User):
    query = Q(user=user)
    if user.team_id:
        query |= Q(shared_with_team=True, user__team_id=user.team_id)
    return Image.objects.filter(query)


def get_image_for_viewer(user: User, image_id: Any) -> Image:
    """An image the user may look at (their own, or shared with their team), else 404."""
    try:
        return viewable_images(user).get(pk=image_id)
    except (Image.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such image.") from None


def get_own_image(user: User, image_id: Any, *, include_trash: bool = False) -> Image:
    """An image the user owns (to change, delete or use as an input), else 404."""
    images = Image.objects.filter(user=user)
    if not include_trash:
        images = images.visible()
    try:
        return images.get(pk=image_id)
    except (Image.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such image.") from None


def get_image_for_page(user: User, image_id: Any) -> Image:
    """An image the gallery shows this user: their own (even in their trash), or one a teammate
    shared that is not in its owner's trash. Anything else is 404."""
    query = Q(user=user)
    if user.team_id:
        query |= Q(shared_with_team=True, deleted_at__isnull=True, user__team_id=user.team_id)
    try:
        return Image.objects.select_related("user", "task").get(query, pk=image_id)
    except (Image.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such image.") from None


def own_images(user: User, image_ids: Any, *, include_trash: bool = True):
    """Exactly these images of the user, or 404 if any of them is not theirs (or does not exist)."""
    ids = set(image_ids)
    images = Image.objects.filter(user=user, pk__in=ids)
    if not include_trash:
        images = images.visible()
    if images.count() != len(ids):
        raise Http404("No such image.")
    return images
