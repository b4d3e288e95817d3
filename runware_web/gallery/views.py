"""The gallery: a member's images (newest first, filtered, paged by cursor), one image's page, the
trash, the team gallery, and the files themselves. Every lookup goes through `access`: another
member's image is 404 whatever the route.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from runware_web.accounts import audit
from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import User
from runware_web.gallery.forms import GalleryFilterForm, SelectionForm, apply_image_filters
from runware_web.gallery.params import parameter_rows
from runware_web.lib.model_viewer import allow_model_viewer
from runware_web.lib.paging import Cursor, Page, keyset_page
from runware_web.lib.ranges import ranged_file_response
from runware_web.lib.streaming import StreamedFileResponse
from runware_web.live.render import partial_for, render_page
from runware_web.media import trash
from runware_web.media.access import get_image_for_page, get_own_image, own_images
from runware_web.media.models import Image
from runware_web.media.store import ensure_thumbnail

PAGE_SIZE = 48
#: The "load more" row at the end of a grid asks for the next tiles only.
TILES = {"load-more": "tiles"}
#: The lightbox (static/js/viewer.js) asks for an image's page without the page around it.
VIEWER = {"viewer-body": "viewer"}
_FILE_CACHE = "private, max-age=86400"
logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------- pages


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The member's images, newest first; `?cursor=` continues after a tile (infinite scroll)."""
    more = partial_for(request, TILES) is not None
    form = GalleryFilterForm(request.GET or None, models=[] if more else _models_of(request.user))
    filters = _valid_filters(form)
    mine = Image.objects.filter(user=request.user).visible()
    images = apply_image_filters(mine, filters)
    # Text in the prompt has no index: search it a window of rows at a time (see keyset_page).
    window = apply_image_filters(mine, {**filters, "prompt": ""}) if filters.get("prompt") else None
    page = keyset_page(images, Cursor.parse(request.GET.get("cursor")), PAGE_SIZE, window=window)
    context = {
        "form": form,
        "page": page,
        "next_url": _next_url(request, page),
        "filtered": bool(filters) or bool(form.is_bound and form.errors),
        "continued": "cursor" in request.GET,
        "selectable": True,
        "gallery_root": reverse("gallery:index"),
    }
    response = render_page(request, "gallery/index.html", context, partials=TILES)
    return allow_model_viewer(response, shows_a_model=more or _may_show_a_model(page, mine))


def _may_show_a_model(page: Page, images: QuerySet[Image]) -> bool:
    """Whether a gallery page may come to show a 3D model in its viewer (its policy must then let
    model-viewer run): one of its tiles is one, or one of the tiles it may load later. Asked of the
    database only when there are more tiles to load; a partial's policy never applies (the page's does)."""
    if any(image.media_type == Image.MediaType.MODEL_3D for image in page.items):
        return True
    return page.has_next and images.filter(media_type=Image.MediaType.MODEL_3D).exists()


@require_safe
def team(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Images the viewer's teammates (and the viewer) chose to share with the team."""
    user = request.user
    images = Image.objects.none()
    if user.team_id:
        images = Image.objects.filter(
            shared_with_team=True, deleted_at__isnull=True, user__team_id=user.team_id
        ).select_related("user")
    page = keyset_page(images, Cursor.parse(request.GET.get("cursor")), PAGE_SIZE)
    context = {
        "page": page,
        "next_url": _next_url(request, page),
        "team": user.team if user.team_id else None,
        "gallery_root": reverse("gallery:index"),
    }
    response = render_page(request, "gallery/team.html", context, partials=TILES)
    return allow_model_viewer(response, shows_a_model=_may_show_a_model(page, images))


@require_safe
def trash_index(request: AuthenticatedHttpRequest) -> HttpResponse:
    images = Image.objects.filter(user=request.user).trashed()
    page = keyset_page(images, Cursor.parse(request.GET.get("cursor")), PAGE_SIZE)
    context = {
        "page": page,
        "next_url": _next_url(request, page),
        "retention_days": settings.TRASH_RETENTION_DAYS,
        "gallery_root": reverse("gallery:index"),
    }
    return render_page(request, "gallery/trash.html", context, partials=TILES)


@require_safe
def detail(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    image = get_image_for_page(request.user, image_id)
    response = render_page(request, "gallery/detail.html", _detail_context(request, image), partials=VIEWER)
    return allow_model_viewer(response, shows_a_model=image.media_type == Image.MediaType.MODEL_3D)


def _detail_context(request: AuthenticatedHttpRequest, image: Image, **extra: Any) -> dict[str, Any]:
    task = image.task
    return {
        "image": image,
        "is_owner": image.user_id == request.user.pk,
        "task": task,
        "parameters": parameter_rows(task.params if task else None),
        "download_name": download_name(image),
        "retention_days": settings.TRASH_RETENTION_DAYS,
        **extra,
    }


# ---------------------------------------------------------------------------------------- files


@require_safe
def image_file(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    image = get_image_for_page(request.user, image_id)
    if signed := _signed_url(image):
        return signed
    try:
        handle = image.file.open("rb")
        size = image.file.size
    except FileNotFoundError:
        return file_gone(request, image)
    # With Range support, so that a browser can seek in a video (206 Partial Content).
    response = ranged_file_response(request, handle, size=size, content_type=image.content_type)
    response["Cache-Control"] = _FILE_CACHE
    return response


@require_safe
def image_thumbnail(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    image = get_image_for_page(request.user, image_id)
    try:
        ensure_thumbnail(image)
        with image.thumbnail.open("rb") as handle:  # a few kB: one read beats streaming it
            response = HttpResponse(handle.read(), content_type="image/webp")
    except FileNotFoundError:
        return file_gone(request, image)
    response["Cache-Control"] = _FILE_CACHE
    return response


@require_safe
def download(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    """The original file, as an attachment with a name a person recognises."""
    image = get_image_for_page(request.user, image_id)
    if signed := _signed_url(image, as_attachment=True):
        return signed
    try:
        handle = image.file.open("rb")
    except FileNotFoundError:
        return file_gone(request, image)
    return StreamedFileResponse(
        handle, as_attachment=True, filename=download_name(image), content_type=image.content_type
    )


def file_gone(request: AuthenticatedHttpRequest, images: Image | list[Image]) -> HttpResponse:
    """404, with a page saying the file is gone from storage: the row is there, its file is not
    (deleted by hand, a restore without the media, a bucket emptied). Logged for the operator, who
    finds every such row with `manage.py check_media`."""
    gone = images if isinstance(images, list) else [images]
    for image in gone:
        logger.warning("The file of image %s (%s) is missing from storage", image.pk, image.file.name)
    return render(request, "gallery/file_gone.html", {"images": gone}, status=404)


def _signed_url(image: Image, *, as_attachment: bool = False) -> HttpResponseRedirect | None:
    """From a bucket that signs its URLs, the original is fetched by the browser from the bucket:
    a redirect, after the access check, to a URL that expires (RUNWARE_WEB_S3_URL_SECONDS). No
    worker spends its bandwidth on it. None for local media, which the portal serves itself."""
    storage = image.file.storage
    if not getattr(storage, "querystring_auth", False):
        return None
    parameters = {"ResponseContentType": image.content_type}
    if as_attachment:
        parameters["ResponseContentDisposition"] = content_disposition_header(True, download_name(image))
    response = HttpResponseRedirect(storage.url(image.file.name, parameters=parameters))
    # Never reused after the URL expires; the page's next visit asks for a fresh one.
    response["Cache-Control"] = f"private, max-age={storage.querystring_expire // 2}"
    return response


def _missing_note(gone: list[Image]) -> str:
    lines = [f"- {download_name(image)}" for image in gone]
    return ("The files of these images are gone from the portal's storage, so they are not in this zip:\n"
            + "\n".join(lines) + "\nTheir pages are still in your gallery; an administrator can say more.\n")


def download_name(image: Image) -> str:
    """lighthouse-at-dusk-1b7a0f8e.png: the prompt's first words, a short id, the real extension."""
    words = slugify(image.prompt)[:60].rstrip("-") or slugify(image.get_kind_display()) or "image"
    return f"{words}-{image.id.hex[:8]}.{image.extension}"


# ---------------------------------------------------------------------------------------- actions on one image


@require_POST
def favourite(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    image = get_own_image(request.user, image_id)
    image.favourite = _flag(request)
    image.save(update_fields=["favourite"])
    message = "Added to your favourites." if image.favourite else "Removed from your favourites."
    return _image_changed(request, image, message)


@require_POST
def share(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    image = get_own_image(request.user, image_id)
    wanted = _flag(request)
    if wanted and not request.user.team_id:
        return _image_changed(request, image, "You are not in a team yet, so there is no one to share with. "
                              "Ask an administrator to add you to one.", error=True)
    changed = image.shared_with_team != wanted
    image.shared_with_team = wanted
    image.save(update_fields=["shared_with_team"])
    if changed:
        _audit_sharing(request, [image.pk], wanted)
    message = "Shared with your team." if wanted else "No longer shared with your team."
    return _image_changed(request, image, message)


@require_POST
def delete(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    image = get_own_image(request.user, image_id)
    if trash.move_to_trash(Image.objects.filter(pk=image.pk)):
        _audit(request, audit.Action.DELETED, [image.pk], before="in the gallery", after="in the trash")
    image.refresh_from_db(fields=["deleted_at"])
    return _image_changed(request, image, "Moved to the trash.", just_deleted=True)


@require_POST
def restore(request: AuthenticatedHttpRequest, image_id: UUID) -> HttpResponse:
    image = get_own_image(request.user, image_id, include_trash=True)
    trash.restore(Image.objects.filter(pk=image.pk))
    image.refresh_from_db(fields=["deleted_at"])
    if not request.htmx and _next(request):
        messages.success(request, "Image restored.")
        return HttpResponseRedirect(_next(request))
    return _image_changed(request, image, "Image restored.")


def _image_changed(
    request: AuthenticatedHttpRequest, image: Image, message: str, *, error: bool = False, just_deleted: bool = False
) -> HttpResponse:
    """htmx: the image page's panel, re-rendered. Plain POST: back to the image page."""
    if request.htmx:
        image = get_image_for_page(request.user, image.pk)
        context = _detail_context(request, image, notice=message, notice_error=error, just_deleted=just_deleted)
        return render(request, "gallery/detail.html#panel", context)
    (messages.error if error else messages.success)(request, message)
    return redirect("gallery:detail", image_id=image.pk)


# ---------------------------------------------------------------------------------------- several images


@require_POST
def selection(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Favourite, share, delete, restore or download several of the member's images at once."""
    form = SelectionForm(request.POST)
    if not form.is_valid():
        problem = " ".join(error for errors in form.errors.values() for error in errors)
        return _selection_done(request, [], problem, error=True)
    action, ids = form.cleaned_data["action"], form.cleaned_data["ids"]
    images = own_images(request.user, ids)  # 404 if any of them is not the member's
    if action == "zip":
        return _zip_response(request, list(images.order_by("-created_at", "-id")))
    count = len(ids)
    noun = "image" if count == 1 else "images"
    undo = None
    if action in {"favourite", "unfavourite"}:
        images.update(favourite=action == "favourite")
        message = f"{count} {noun} added to your favourites." if action == "favourite" else (
            f"{count} {noun} removed from your favourites.")
    elif action in {"share", "unshare"}:
        if action == "share" and not request.user.team_id:
            return _selection_done(request, [], "You are not in a team yet, so there is no one to share with. "
                                   "Ask an administrator to add you to one.", error=True)
        wanted = action == "share"
        changed = list(images.exclude(shared_with_team=wanted).values_list("pk", flat=True))
        images.update(shared_with_team=wanted)
        if changed:
            _audit_sharing(request, changed, wanted)
        message = f"{count} {noun} shared with your team." if action == "share" else (
            f"{count} {noun} no longer shared with your team.")
    elif action == "delete":
        moved = list(images.filter(deleted_at__isnull=True).values_list("pk", flat=True))
        if trash.move_to_trash(images):
            _audit(request, audit.Action.DELETED, moved, before="in the gallery", after="in the trash")
        message = f"{count} {noun} moved to the trash."
        undo = ids
    else:
        trash.restore(images)
        message = f"{count} {noun} restored."
    return _selection_done(request, ids, message, undo=undo)


def _selection_done(
    request: AuthenticatedHttpRequest, ids: list, message: str, *, error: bool = False, undo: list | None = None
) -> HttpResponse:
    if not request.htmx:
        (messages.error if error else messages.success)(request, message)
        return HttpResponseRedirect(_next(request) or reverse("gallery:index"))
    changed = list(Image.objects.filter(user=request.user, pk__in=ids).order_by("-created_at", "-id"))
    html = render_to_string(
        "gallery/index.html#notice",
        {"notice": message, "notice_error": error, "undo_ids": undo or []},
        request=request,
    )
    for image in changed:
        html += render_to_string(
            "gallery/index.html#tile",
            {"image": image, "oob": True, "selectable": True, "gallery_root": reverse("gallery:index")},
            request=request,
        )
    return HttpResponse(html)


def _zip_response(request: AuthenticatedHttpRequest, images: list[Image]) -> HttpResponse:
    """The originals in one zip (stored, not recompressed: PNG/JPEG/WebP are compressed already).
    Images whose file is gone are left out and named in MISSING.txt; if every one is gone, 404."""
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 (the response closes it)
    used: set[str] = set()
    gone: list[Image] = []
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            name = download_name(image)
            while name in used:  # two images of the same prompt and short id: practically never
                name = f"{image.id.hex}.{image.extension}"
            try:
                source = image.file.open("rb")
            except FileNotFoundError:
                gone.append(image)
                continue
            used.add(name)
            with source, archive.open(name, "w") as target:
                while chunk := source.read(1024 * 1024):
                    target.write(chunk)
        if gone and used:
            archive.writestr("MISSING.txt", _missing_note(gone))
    if gone and not used:
        spool.close()
        return file_gone(request, gone)
    spool.seek(0)
    filename = f"runware-images-{timezone.localtime():%Y%m%d-%H%M}.zip"
    return StreamedFileResponse(spool, as_attachment=True, filename=filename, content_type="application/zip")


@require_POST
def empty_trash(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Delete the member's trash for good. The page's dialog confirms it (htmx sends confirm=yes);
    without JavaScript a page asks first."""
    if request.POST.get("confirm") != "yes":
        count = Image.objects.filter(user=request.user).trashed().count()
        return render(request, "gallery/empty_trash.html", {"count": count})
    count = trash.purge(Image.objects.filter(user=request.user))
    if count:
        _audit(request, audit.Action.TRASH_EMPTIED, [], target=f"{count} image{'s' if count != 1 else ''} in the trash",
               before=f"{count} in the trash", after="deleted for good")
        messages.success(request, f"{count} image{'s' if count != 1 else ''} deleted for good.")
    else:
        messages.info(request, "The trash was already empty.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("gallery:trash"))
    return redirect("gallery:trash")


# ---------------------------------------------------------------------------------------- helpers


def _valid_filters(form: GalleryFilterForm) -> dict[str, Any]:
    """The filters that are valid; one with an error is shown next to its field and left out."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.filters()


# A loose index scan over image_live_model: one index seek per distinct model, instead of a
# DISTINCT over every image of the member (100,000 images cost what 100 do). Same SQL on SQLite
# and PostgreSQL.
_MODELS_SQL = """
WITH RECURSIVE used(model) AS (
    SELECT (SELECT model FROM {table} WHERE user_id = %s AND deleted_at IS NULL AND model > ''
            ORDER BY model LIMIT 1)
    UNION ALL
    SELECT (SELECT model FROM {table} WHERE user_id = %s AND deleted_at IS NULL AND model > used.model
            ORDER BY model LIMIT 1)
    FROM used WHERE used.model IS NOT NULL
)
SELECT model FROM used WHERE model IS NOT NULL
"""


def _models_of(user: User) -> list[str]:
    """The models this member has images of (not counting the trash), for the filter's list."""
    sql = _MODELS_SQL.format(table=connection.ops.quote_name(Image._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk])
        return [model for (model,) in cursor.fetchall()]


def _next_url(request: HttpRequest, page: Page) -> str | None:
    if not page.has_next:
        return None
    params: QueryDict = request.GET.copy()
    params["cursor"] = str(page.next_cursor)
    return f"{request.path}?{params.urlencode()}"


def _flag(request: HttpRequest) -> bool:
    return request.POST.get("value", "").lower() in {"1", "true", "on", "yes"}


def _next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


# ---------------------------------------------------------------------------------------- the audit log


def _audit_sharing(request: AuthenticatedHttpRequest, ids: list[UUID], shared: bool) -> None:
    action = audit.Action.SHARED if shared else audit.Action.UNSHARED
    before, after = ("private", "shared with the team") if shared else ("shared with the team", "private")
    _audit(request, action, ids, before=before, after=after)


def _audit(request: AuthenticatedHttpRequest, action: str, ids: list[UUID], *, target: str = "",
           before: str, after: str) -> None:
    """One entry for what the member did to these images (named by the start of their ids)."""
    if not target:
        shown = ", ".join(str(pk)[:8] for pk in ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        target = f"image {shown}" if len(ids) == 1 else f"{len(ids)} images: {shown}"
    audit.record(action, by=request.user, team=request.user.team_id, target=target, before=before, after=after,
                 address=audit.address_of(request))
