"""Pictures uploaded from a page's form to start from (a video's first and last frames, a 3D model's
image): each checked (media.uploads.ImageUploadField), kept in the member's gallery, then picked on
the form, which htmx draws again from the values posted beside the file, so nothing typed is lost.

The same file uploaded again is the copy already in the gallery (media.store.save_upload): it is
picked, and the member is told so in a toast, as the studio's uploads do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import HttpResponse
from django.template.loader import render_to_string
from django_htmx.http import trigger_client_event

from runware_web.accounts.models import User
from runware_web.media.store import UPLOADED_BEFORE, save_upload

#: The event an answer sends (on the page's body, once settled) when it picked an upload: a page's
#: cost estimate listens for it, as the picker changed without a change event.
PICKED_EVENT = "upload-picked"


@dataclass(frozen=True)
class Picked:
    #: Each upload field's messages (empty when it was fine or not sent), by the upload field's name.
    errors: dict[str, list[str]]
    #: The form fields an upload was picked for.
    fields: tuple[str, ...] = ()
    #: One of them had been uploaded before: its earlier copy was picked.
    again: bool = False


def pick_uploads(
    user: User, upload: forms.Form, targets: Mapping[str, str], values: dict[str, Any]
) -> Picked:
    """Store each good image of the bound `upload` form and pick it in `values` (the page form's
    values): `targets` names, for each upload field, the form field that picks an image. A bad file
    only gets its message; what `values` held stays."""
    upload.is_valid()
    fields: list[str] = []
    again = False
    for upload_field, target in targets.items():
        checked = upload.cleaned_data.get(upload_field)
        if checked:
            saved = save_upload(user, checked)
            values[target] = str(saved.image.pk)
            fields.append(target)
            again = again or saved.again
    errors = {name: list(upload.errors.get(name, [])) for name in targets}
    return Picked(errors=errors, fields=tuple(fields), again=again)


def told(response: HttpResponse, picked: Picked) -> HttpResponse:
    """The answer drawing the form again, with what the member is told of the upload: that an earlier
    copy was used (a toast, out of band), and the event that a picker changed."""
    if picked.again:
        response.write(render_to_string("base.html#toast", {"message": UPLOADED_BEFORE, "level": "info"}))
    if picked.fields:
        trigger_client_event(response, PICKED_EVENT, after="settle")
    return response
