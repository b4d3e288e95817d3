"""imageInference and the image utility tasks, through the official SDK on both transports."""

from __future__ import annotations

import base64

import pytest
from PIL import ImageStat
from runware import RunwareError

from runware_web.simulator import catalog

from .helpers import TRANSPORTS, data_uri, image_task, new_uuid, open_image, solid, square_on_white, upload


def _mean(image, box):
    return tuple(round(v) for v in ImageStat.Stat(image.convert("RGB").crop(box)).mean)


def _close(colour, expected, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


@TRANSPORTS
@pytest.mark.parametrize("delivery", ["sync", "async"])
async def test_text_to_image_returns_one_item_per_result(connect, fetch, transport, delivery):
    client = connect(transport)
    items = await client.run(
        image_task(numberResults=3, seed=41, deliveryMethod=delivery, width=320, height=192)
    )
    assert len(items) == 3
    assert len({item["imageUUID"] for item in items}) == 3
    assert sorted(item["seed"] for item in items) == [41, 42, 43]
    for item in items:
        assert item["taskType"] == "imageInference"
        assert item["cost"] > 0
        image = open_image(await fetch(item["imageURL"]))
        assert image.size == (320, 192)
        assert image.format == "JPEG"


async def test_random_seeds_differ_without_a_seed(connect):
    items = await connect().run(image_task(numberResults=2))
    assert items[0]["seed"] != items[1]["seed"]


async def test_sync_results_arrive_one_frame_at_a_time(connect, sim):
    sim.latency = 0.05
    seen = []
    from runware import RunOptions

    items = await connect().run(image_task(numberResults=3), RunOptions(on_result=seen.append))
    assert len(seen) == 3 and len(items) == 3


@pytest.mark.parametrize(
    "output_type, output_format, pil_format",
    [
        ("base64Data", "PNG", "PNG"),
        ("dataURI", "WEBP", "WEBP"),
        ("URL", "PNG", "PNG"),
        ("dataURI", "JPG", "JPEG"),
    ],
)
async def test_output_types_and_formats(connect, fetch, output_type, output_format, pil_format):
    [item] = await connect("rest").run(image_task(outputType=output_type, outputFormat=output_format))
    if output_type == "URL":
        data = await fetch(item["imageURL"])
        assert item["imageURL"].endswith("." + {"PNG": "png", "WEBP": "webp", "JPG": "jpg"}[output_format])
    elif output_type == "base64Data":
        data = base64.b64decode(item["imageBase64Data"])
        assert "imageURL" not in item
    else:
        prefix, _, payload = item["imageDataURI"].partition(",")
        assert prefix.startswith("data:image/")
        data = base64.b64decode(payload)
    assert open_image(data).format == pil_format


async def test_the_same_request_gives_the_same_bytes(connect, fetch):
    client = connect()
    first = await client.run(image_task(seed=7, outputFormat="PNG"))
    second = await client.run(image_task(seed=7, outputFormat="PNG"))
    other = await client.run(image_task(seed=8, outputFormat="PNG"))
    assert first[0]["imageUUID"] != second[0]["imageUUID"]
    assert await fetch(first[0]["imageURL"]) == await fetch(second[0]["imageURL"])
    assert await fetch(first[0]["imageURL"]) != await fetch(other[0]["imageURL"])


async def test_image_to_image_blends_the_seed_image_by_strength(connect, fetch):
    client = connect()
    red = await upload(client, solid((220, 10, 10)))
    box = (64, 64, 192, 160)
    [light] = await client.run(image_task(seedImage=red, strength=0.1, seed=3, outputFormat="PNG"))
    [heavy] = await client.run(image_task(seedImage=red, strength=0.95, seed=3, outputFormat="PNG"))
    assert _close(_mean(open_image(await fetch(light["imageURL"])), box), (220, 10, 10), tolerance=30)
    assert not _close(_mean(open_image(await fetch(heavy["imageURL"])), box), (220, 10, 10), tolerance=30)


async def test_seed_image_as_data_uri_and_as_simulator_url(connect, fetch):
    client = connect("rest")
    [by_uri] = await client.run(
        image_task(seedImage=data_uri(solid((0, 0, 255))), strength=0.0, outputFormat="PNG")
    )
    [by_url] = await client.run(image_task(seedImage=by_uri["imageURL"], strength=0.0, outputFormat="PNG"))
    assert _close(_mean(open_image(await fetch(by_url["imageURL"])), (64, 64, 192, 160)), (0, 0, 255))


async def test_inpainting_repaints_only_the_masked_area(connect, fetch):
    client = connect()
    green = await upload(client, solid((20, 200, 20)))
    mask = solid((0, 0, 0))
    mask.paste((255, 255, 255), (0, 0, 128, 256))  # repaint the left half
    mask_uuid = await upload(client, mask)
    [item] = await client.run(
        image_task(
            seedImage=green, maskImage=mask_uuid, maskMargin=32, strength=1.0, seed=5, outputFormat="PNG"
        )
    )
    image = open_image(await fetch(item["imageURL"]))
    assert _close(_mean(image, (160, 80, 240, 180)), (20, 200, 20), tolerance=2)  # kept
    assert not _close(_mean(image, (10, 80, 110, 180)), (20, 200, 20), tolerance=30)  # repainted


async def test_outpainting_extends_the_canvas(connect, fetch):
    client = connect()
    blue = await upload(client, solid((10, 10, 230), (128, 128)))
    [item] = await client.run(
        image_task(
            seedImage=blue,
            outpaint={"left": 64, "right": 64, "blur": 0},
            width=256,
            height=128,
            seed=9,
            outputFormat="PNG",
        )
    )
    image = open_image(await fetch(item["imageURL"]))
    assert image.size == (256, 128)
    assert _close(_mean(image, (90, 30, 166, 100)), (10, 10, 230), tolerance=2)
    assert not _close(_mean(image, (0, 30, 50, 100)), (10, 10, 230), tolerance=30)


async def test_outpainting_into_a_size_that_does_not_fit_the_seed_scales_it_and_crops_nothing(connect, fetch):
    """A 128×128 seed extended 64 left and right into 256×256 (not seed + extension): its left edge
    (red) is still at the inner rectangle's left, not cropped away to fill a tall strip."""
    client = connect()
    seed = solid((10, 10, 230), (128, 128))
    seed.paste((230, 10, 10), (0, 0, 32, 128))
    seed_uuid = await upload(client, seed)
    [item] = await client.run(
        image_task(seedImage=seed_uuid, outpaint={"left": 64, "right": 64}, width=256, height=256, outputFormat="PNG")
    )
    image = open_image(await fetch(item["imageURL"]))
    assert image.size == (256, 256)
    assert _close(_mean(image, (68, 100, 92, 150)), (230, 10, 10), tolerance=4)
    assert _close(_mean(image, (110, 100, 180, 150)), (10, 10, 230), tolerance=4)


async def test_outpainting_without_a_size_grows_the_seed_image(connect, fetch):
    client = connect()
    seed = await upload(client, solid((10, 10, 230), (256, 256)))
    [item] = await client.run(
        image_task(seedImage=seed, outpaint={"top": 128, "bottom": 128}, width=None, height=None)
    )
    assert open_image(await fetch(item["imageURL"])).size == (256, 512)


def _first(category: str) -> str:
    _, models = catalog.search(catalog.SearchQuery(category=category, architecture="sdxl", limit=1))
    return models[0].air


@TRANSPORTS
async def test_lora_controlnet_refiner_and_generation_settings(connect, transport):
    client = connect(transport)
    guide = await client.run(
        {
            "taskType": "controlNetPreprocess",
            "model": "runware:controlnet-preprocess@canny",
            "inputs": {"image": data_uri(square_on_white())},
            "deliveryMethod": "sync",
        }
    )
    items = await client.run(
        image_task(
            model="civitai:101055@128078",
            lora=[{"model": _first("lora"), "weight": 0.8}],
            controlNet=[
                {
                    "model": _first("controlnet"),
                    "guideImage": guide[0]["guideImageUUID"],
                    "weight": 0.7,
                    "startStepPercentage": 0,
                    "endStepPercentage": 80,
                    "controlMode": "balanced",
                }
            ],
            refiner={"model": "civitai:101055@128078", "startStepPercentage": 80},
            scheduler="DPM++ 2M Karras",
            CFGScale=6.5,
            clipSkip=1,
            promptWeighting="compel",
            checkNSFW=True,
            negativePrompt="blurry",
            steps=30,
        )
    )
    assert items[0]["NSFWContent"] is False
    plain = await client.run(image_task(model="civitai:101055@128078", steps=30))
    assert items[0]["cost"] > plain[0]["cost"]  # adapters are priced


@pytest.mark.parametrize(
    "overrides, parameter",
    [
        ({"width": 100}, "width"),
        ({"width": 500}, "width"),
        ({"height": 4096}, "height"),
        ({"numberResults": 21}, "numberResults"),
        ({"steps": 0}, "steps"),
        ({"CFGScale": 51}, "CFGScale"),
        ({"strength": 1.5, "seedImage": None}, "strength"),
        ({"clipSkip": 3}, "clipSkip"),
        ({"positivePrompt": "a"}, "positivePrompt"),
        ({"positivePrompt": None}, "positivePrompt"),
        ({"model": "flux-dev"}, "model"),
        ({"model": "google:gemma@4-31b"}, "model"),
        ({"seedImage": "0c49cbb4-5d9c-4a51-8f05-8d8a2e7f4b11"}, "seedImage"),
        ({"lora": [{"model": "civitai:101055@128078", "weight": 1}]}, "lora[0].model"),
        ({"outputFormat": "GIF"}, "outputFormat"),
    ],
)
@TRANSPORTS
async def test_invalid_parameters_are_validation_errors_naming_the_parameter(
    connect, transport, overrides, parameter
):
    task = image_task(**{k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        task.pop(key, None)
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(task)
    assert caught.value.code == "validation"
    assert caught.value.parameter == parameter


@TRANSPORTS
async def test_lora_weight_out_of_range(connect, transport):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(image_task(lora=[{"model": _first("lora"), "weight": 4.5}]))
    assert (caught.value.code, caught.value.parameter) == ("validation", "lora[0].weight")


@TRANSPORTS
async def test_unknown_model_air_is_not_found(connect, transport):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(image_task(model="civitai:1@1"))
    assert (caught.value.code, caught.value.parameter) == ("notFound", "model")


# ------------------------------------------------------------------- image utilities


@TRANSPORTS
@pytest.mark.parametrize("task_type", ["upscale", "imageUpscale"])
async def test_upscale_resizes_by_the_factor(connect, fetch, transport, task_type):
    client = connect(transport)
    source = await upload(client, square_on_white(128))
    key = {"inputs": {"image": source}} if task_type == "upscale" else {"inputImage": source}
    [item] = await client.run(
        {
            "taskType": task_type,
            "model": "runware:504@1",
            "upscaleFactor": 4,
            "outputFormat": "PNG",
            "deliveryMethod": "sync",
            **key,
        }
    )
    assert item["inputImageUUID"] == source
    assert item["taskType"] == task_type
    assert open_image(await fetch(item["imageURL"])).size == (512, 512)


@pytest.mark.parametrize("task_type", ["removeBackground", "imageBackgroundRemoval"])
async def test_background_removal_cuts_out_the_subject(connect, fetch, task_type):
    client = connect()
    source = data_uri(square_on_white())
    task = (
        {"inputs": {"image": source}, "model": "runware:112@1"}
        if task_type == "removeBackground"
        else {"inputImage": source}
    )
    [item] = await client.run({"taskType": task_type, "deliveryMethod": "sync", **task})
    image = open_image(await fetch(item["imageURL"]))
    assert image.format == "PNG" and image.mode == "RGBA"
    assert image.getpixel((5, 5))[3] == 0
    assert image.getpixel((128, 128))[3] == 255


async def test_background_removal_settings(connect, fetch):
    client = connect("rest")
    source = data_uri(square_on_white())
    base = {
        "taskType": "removeBackground",
        "model": "runware:109@1",
        "inputs": {"image": source},
        "deliveryMethod": "sync",
    }
    [coloured] = await client.run({**base, "settings": {"rgba": [0, 0, 255, 1]}, "outputFormat": "WEBP"})
    assert _close(open_image(await fetch(coloured["imageURL"])).convert("RGB").getpixel((5, 5)), (0, 0, 255))
    [mask] = await client.run(
        {**base, "settings": {"returnOnlyMask": True, "alphaMatting": True, "alphaMattingErodeSize": 3}}
    )
    mask_image = open_image(await fetch(mask["imageURL"])).convert("L")
    assert mask_image.getpixel((5, 5)) == 0 and mask_image.getpixel((128, 128)) == 255
    [flat] = await client.run({**base, "outputFormat": "JPG"})
    assert open_image(await fetch(flat["imageURL"])).format == "JPEG"


@TRANSPORTS
async def test_image_masking_detects_and_masks(connect, fetch, transport):
    client = connect(transport)
    source = await upload(client, square_on_white())
    task = {
        "taskType": "imageMasking",
        "model": "runware:35@4",
        "inputs": {"image": source},
        "deliveryMethod": "sync",
    }
    [item] = await client.run({**task, "settings": {"maxDetections": 1, "maskPadding": 0, "maskBlur": 0}})
    assert item["inputImageUUID"] == source
    [box] = item["detections"]
    assert abs(box["x_min"] - 64) <= 8 and abs(box["x_max"] - 192) <= 8
    mask = open_image(await fetch(item["maskImageURL"])).convert("L")
    assert mask.getpixel((128, 128)) == 255 and mask.getpixel((5, 5)) == 0
    [strict] = await client.run({**task, "settings": {"confidence": 1.0}})
    assert strict["detections"] == []


async def test_image_masking_face_parts_models(connect):
    client = connect()
    source = await upload(client, square_on_white())
    [item] = await client.run(
        {"taskType": "imageMasking", "model": "runware:35@10", "inputImage": source, "deliveryMethod": "sync"}
    )
    assert len(item["detections"]) == 2  # eyes and lips


async def test_canny_finds_real_edges(connect, fetch):
    client = connect()
    [item] = await client.run(
        {
            "taskType": "controlNetPreprocess",
            "model": "runware:controlnet-preprocess@canny",
            "inputs": {"image": data_uri(square_on_white())},
            "settings": {"lowThresholdCanny": 50, "highThresholdCanny": 150},
            "deliveryMethod": "sync",
        }
    )
    edges = open_image(await fetch(item["guideImageURL"])).convert("L")
    assert (
        max(edges.getpixel((64, y)) for y in range(100, 150)) == 255
        or max(edges.getpixel((x, 128)) for x in range(58, 70)) == 255
    )  # the square's left border
    assert edges.getpixel((128, 128)) == 0 and edges.getpixel((10, 10)) == 0  # flat areas
    assert item["inputImageUUID"]


@pytest.mark.parametrize("kind", catalog.default_models("controlNetPreprocess"))
async def test_every_current_preprocessor_model(connect, kind):
    [item] = await connect().run(
        {
            "taskType": "controlNetPreprocess",
            "model": kind,
            "inputs": {"image": data_uri(square_on_white(128))},
            "deliveryMethod": "sync",
            "settings": {"includeHandsAndFaceOpenPose": True},
        }
    )
    assert item["guideImageUUID"] and item["guideImageURL"]


@pytest.mark.parametrize("kind", ["canny", "depth", "openpose", "lineart_anime", "seg", "shuffle"])
async def test_legacy_preprocessor_task(connect, fetch, kind):
    [item] = await connect("rest").run(
        {
            "taskType": "imageControlNetPreProcess",
            "preProcessorType": kind,
            "inputImage": data_uri(square_on_white(128)),
            "width": 256,
            "height": 256,
            "deliveryMethod": "sync",
        }
    )
    assert item["taskType"] == "imageControlNetPreProcess"
    assert open_image(await fetch(item["guideImageURL"])).size == (256, 256)


@TRANSPORTS
async def test_image_upload_and_media_storage(connect, fetch, transport):
    client = connect(transport)
    [uploaded] = await client.image_upload(
        {"image": base64.b64encode(base64.b64decode(data_uri(solid((1, 2, 3))).split(",", 1)[1])).decode()}
    )
    assert open_image(await fetch(uploaded["imageURL"])).getpixel((0, 0)) == (1, 2, 3)
    [stored] = await client.media_storage({"operation": "upload", "media": data_uri(solid((4, 5, 6)))})
    assert stored["operation"] == "upload" and stored["mediaURL"]
    [generated] = await client.run(image_task(seedImage=stored["mediaUUID"], strength=0.5))
    assert generated["imageUUID"]
    [deleted] = await client.media_storage({"operation": "delete", "mediaUUID": stored["mediaUUID"]})
    assert deleted == {
        "taskType": "mediaStorage",
        "taskUUID": deleted["taskUUID"],
        "operation": "delete",
        "mediaUUID": stored["mediaUUID"],
    }
    with pytest.raises(RunwareError) as caught:
        await client.media_storage({"operation": "delete", "mediaUUID": stored["mediaUUID"]})
    assert caught.value.code == "notFound"


async def test_external_urls_are_refused_offline(connect):
    with pytest.raises(RunwareError) as caught:
        await connect().run(image_task(seedImage="https://example.com/cat.png"))
    assert (caught.value.code, caught.value.parameter) == ("validation", "seedImage")


async def test_inputs_object_form_of_the_seed_image(connect):
    client = connect()
    source = await upload(client, solid((9, 9, 9)))
    [item] = await client.run(image_task(inputs={"seedImage": source}, strength=0.3, taskUUID=new_uuid()))
    assert item["imageUUID"]
