"""Runware's own shapes: error objects and raw codes, result items, the media URL of a result.

Answers are what Runware would answer, so the SDKs map them to their stable codes (protocol
reference §6.3): the raw codes below are chosen so that `runware.errors.derive_code` gives back the
stable code the portal meant (tests/endpoint/test_protocol.py checks each against the SDK).
"""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from runware_web.media.models import Image
from runware_web.upstream.errors import Refused, UpstreamError

# A stable code of the portal's (upstream.errors) → the raw code Runware would send for it.
RAW_CODES = {
    "quota": "insufficientCredits",
    "rateLimit": "rateLimitExceeded",
    "safety": "contentPolicyViolation",
    "provider": "providerError",
    "timeout": "taskTimeout",
    "notFound": "taskFailedOrNotFound",
    "serverError": "internalServerError",
    "aborted": "aborted",
    # The portal's own Runware key refused, Runware or the portal's services away: none of it is
    # the script's fault, so none of it is an `auth` error (which stops the SDK reconnecting).
    "auth": "serviceUnavailable",
    "unavailable": "serviceUnavailable",
    "connection": "serviceUnavailable",
    "internal": "internalServerError",
    "unknown": "unknownError",
}

INVALID_KEY = "Invalid API key. Create a personal key on your portal's Keys page and use it here."
MISSING_KEY = "Authenticate first: send an authentication task with your personal API key."

MEDIA_SALT = "runware_web.endpoint.media"
#: The field prefix of results Runware sends as `outputs.files` entries (3D models), not as fields.
FILES = "files"


def error(code: str, message: str, *, task_type: str = "", task_uuid: str = "", parameter: str = "") -> dict[str, Any]:
    """One Runware error object (without a taskUUID only when the frame named none)."""
    obj: dict[str, Any] = {"code": code, "message": message}
    if parameter:
        obj["parameter"] = parameter
    if task_type:
        obj["taskType"] = task_type
    if task_uuid:
        obj["taskUUID"] = task_uuid
    return obj


def invalid(parameter: str, message: str, *, task_type: str = "", task_uuid: str = "") -> dict[str, Any]:
    """A validation error naming the parameter, coded as Runware does (`invalidWidth`…)."""
    code = "invalid" + parameter[:1].upper() + parameter[1:] if parameter else "validationFailed"
    return error(code, message, task_type=task_type, task_uuid=task_uuid, parameter=parameter)


def from_upstream(failure: UpstreamError, *, task_type: str, task_uuid: str) -> dict[str, Any]:
    """A task's failure (as the runner recorded it) in Runware's words."""
    if failure.code == "validation":
        return invalid(failure.parameter, failure.full_message, task_type=task_type, task_uuid=task_uuid)
    return error(RAW_CODES.get(failure.code, "unknownError"), failure.full_message, task_type=task_type,
                 task_uuid=task_uuid, parameter=failure.parameter)


#: A refusal naming a parameter (Refused.field) → the Runware code the SDKs map to its stable code:
#: the key itself to `auth`, a model or task type outside the rules to `validation`, naming it.
REFUSED_PARAMETERS = {"apiKey": "invalidApiKey", "model": "unsupportedModel", "taskType": "unsupportedTaskType"}


def from_refusal(refused: Refused, *, task_type: str, task_uuid: str) -> dict[str, Any]:
    """Admission said no: a budget is a `quota` error, the rate limit a `rateLimit` one; a key no
    longer usable an `auth` one, a model or task type the team's or the key's rules do not allow
    a validation error naming it."""
    if refused.field in REFUSED_PARAMETERS:
        return error(REFUSED_PARAMETERS[refused.field], refused.message, parameter=refused.field,
                     task_type=task_type, task_uuid=task_uuid)
    code = "rateLimitExceeded" if refused.code == "rateLimit" else "insufficientCredits"
    return error(code, refused.message, task_type=task_type, task_uuid=task_uuid)


# ---------------------------------------------------------------------- results


def media_token(image_id: Any) -> str:
    return signing.TimestampSigner(salt=MEDIA_SALT).sign(str(image_id))


def media_path(image_id: Any, extension: str) -> str:
    """The portal's signed URL of an image (relative to the portal), stored or about to be."""
    return reverse("endpoint_api:media", kwargs={"token": media_token(image_id), "ext": extension})


def image_from_token(token: str) -> Any:
    """The image id a media token names, if its signature holds and it has not expired (else raises)."""
    value = signing.TimestampSigner(salt=MEDIA_SALT).unsign(token, max_age=settings.ENDPOINT_MEDIA_URL_SECONDS)
    return uuid.UUID(value)


def image_item(image: Image, *, task_type: str, task_uuid: str, output_type: str, base_url: str,
               prefix: str = "image", data: bytes | None = None, result_index: int | None = None) -> dict[str, Any]:
    """One finished image as Runware sends it: its id is the portal's (usable as an input image
    in the member's next tasks), its URL the portal's own, signed and expiring. `prefix` is the
    task type's field prefix (`imageUUID`, `guideImageURL`, `maskImageDataURI`, `audioURL`…), or
    FILES for a 3D model (`outputs.files`: URL only, as Runware's schema allows); `data` the
    image's bytes when the caller has them (else the stored file is read for base64 outputs);
    `result_index` its place among the task's results (Runware's `resultIndex`)."""
    if prefix == FILES:
        url = base_url.rstrip("/") + media_path(image.pk, image.extension)
        item: dict[str, Any] = {"taskType": task_type, "taskUUID": task_uuid,
                                "outputs": {"files": [{"uuid": str(image.pk), "url": url, "format": image.extension.upper()}]}}
        if result_index is not None:
            item["resultIndex"] = result_index
        return _with_details(item, seed=image.seed, nsfw=None, cost=image.cost)
    item = {"taskType": task_type, "taskUUID": task_uuid, f"{prefix}UUID": str(image.pk)}
    if result_index is not None:
        item["resultIndex"] = result_index
    if output_type in {"base64Data", "dataURI"}:
        if data is None:
            with image.file.open("rb") as handle:
                data = handle.read()
        data = base64.b64encode(data).decode()
        if output_type == "base64Data":
            item[f"{prefix}Base64Data"] = data
        else:
            item[f"{prefix}DataURI"] = f"data:{image.content_type};base64,{data}"
    else:
        item[f"{prefix}URL"] = base_url.rstrip("/") + media_path(image.pk, image.extension)
    return _with_details(item, seed=image.seed, nsfw=image.nsfw, cost=image.cost)


def early_image_item(image_id: uuid.UUID, *, task_type: str, task_uuid: str, prefix: str, extension: str,
                     seed: Any, nsfw: Any, cost: Decimal | None) -> dict[str, Any]:
    """An image as Runware sends it, before the portal has stored it: the id it will be stored
    under, and its media URL (relative to the portal), which waits for the file. Its details come
    from Runware's item, as they would from the stored image."""
    item: dict[str, Any] = {"taskType": task_type, "taskUUID": task_uuid, f"{prefix}UUID": str(image_id),
                            f"{prefix}URL": media_path(image_id, extension)}
    return _with_details(item, seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
                         nsfw=nsfw if isinstance(nsfw, bool) else None, cost=cost)


def _with_details(item: dict[str, Any], *, seed: int | None, nsfw: bool | None, cost: Decimal | None) -> dict[str, Any]:
    if seed is not None:
        item["seed"] = seed
    if nsfw is not None:
        item["NSFWContent"] = nsfw
    if cost is not None:
        item["cost"] = float(cost)
    return item


def text_item(stored: dict[str, Any], *, task_type: str, task_uuid: str) -> dict[str, Any]:
    """A text result as Runware sent it (kept as it came), under the script's own taskUUID."""
    return {"taskType": task_type, "taskUUID": task_uuid, **stored}
