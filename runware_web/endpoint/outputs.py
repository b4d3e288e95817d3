"""The task types the endpoint runs (they cost money), and what each gives back.

Images go to the member's gallery (an `Image` row of the kind below); their Runware fields carry a
prefix (`imageUUID`, `guideImageURL`, `maskImageDataURI`…). Texts (a reply, a caption, an enhanced
prompt) are kept as the item Runware sent (`TextOutput`). Videos are the Video page's: the runner
hands them to its handler (feature "video"), which stores each in the member's library as a video
from the page would be; the script polls for them (getResponse), as it does Runware. Audio clips
(the Audio page's handler, feature "audio") and 3D models (the 3D page's, feature "threed") go the
same way; a clip's fields carry the prefix `audio`, a model is Runware's `outputs.files` entry
(protocol.FILES).
"""

from __future__ import annotations

from dataclasses import dataclass

from runware_web.endpoint.protocol import FILES
from runware_web.media.models import Image


@dataclass(frozen=True)
class Output:
    text: bool = False
    prefix: str = "image"  # the result item's field prefix, for images
    kind: str = Image.Kind.GENERATED  # the gallery kind, for images
    count_param: str = "numberResults"  # the parameter saying how many results come back
    max_count: int = 20
    deliveries: tuple[str, ...] = ("sync", "async")  # the first when a task names none
    # Runware sends these results in one message (promptEnhance's versions): the SDK's run() takes
    # whatever arrives first as the whole answer, so the portal sends them together at the end too.
    together: bool = False
    # The feature whose handler stores the results ("": the endpoint's own). Its tasks are sent to
    # Runware with async delivery (the runner polls) and the script polls the portal for them.
    feature: str = ""


RUN_TASK_TYPES: dict[str, Output] = {
    "imageInference": Output(),
    "upscale": Output(kind=Image.Kind.UPSCALED, max_count=1),
    "removeBackground": Output(kind=Image.Kind.BACKGROUND_REMOVED, max_count=1),
    "controlNetPreprocess": Output(prefix="guideImage", kind=Image.Kind.GUIDE, max_count=1),
    "imageMasking": Output(prefix="maskImage", kind=Image.Kind.MASK, max_count=1),
    "caption": Output(text=True, max_count=1),
    "promptEnhance": Output(text=True, count_param="promptVersions", max_count=5, together=True),
    "textInference": Output(text=True, max_count=4, deliveries=("sync", "async", "stream")),
    "videoInference": Output(prefix="video", max_count=4, deliveries=("async",), feature="video"),
    "audioInference": Output(prefix="audio", max_count=4, deliveries=("async",), feature="audio"),
    # One model a task until getResponse numbers them (resultIndex: a 3D item has no id of its own,
    # so the SDKs would take two models for one and wait for the second until they time out).
    "3dInference": Output(prefix=FILES, max_count=4, deliveries=("async",), feature="threed"),
}

#: Fields of a text item that are Runware's own bookkeeping, not part of what is kept.
ENVELOPE = ("taskType", "taskUUID", "status")
