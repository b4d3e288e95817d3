"""The raw codes the endpoint sends are the ones the SDK maps to the stable code the portal means."""

from __future__ import annotations

import pytest
from runware.errors import derive_code

from runware_web.endpoint import protocol
from runware_web.upstream.errors import Refused, UpstreamError


@pytest.mark.parametrize(("stable", "expected"), [
    ("quota", "quota"), ("rateLimit", "rateLimit"), ("safety", "safety"), ("provider", "provider"),
    ("timeout", "timeout"), ("notFound", "notFound"), ("serverError", "serverError"), ("aborted", "aborted"),
    # The portal's own Runware key refused, or Runware away: never the script's `auth`.
    ("auth", "serverError"), ("unavailable", "serverError"), ("connection", "serverError"),
    ("internal", "serverError"),
])
def test_each_failure_reaches_the_sdk_as_the_code_the_portal_meant(stable, expected):
    obj = protocol.from_upstream(UpstreamError(code=stable, message="m"), task_type="imageInference", task_uuid="u")
    assert derive_code(obj["code"]) == expected


@pytest.mark.parametrize("parameter", ["width", "positivePrompt", "model", "numberResults", ""])
def test_a_validation_failure_names_its_parameter(parameter):
    obj = protocol.from_upstream(UpstreamError(code="validation", message="m", parameter=parameter),
                                 task_type="imageInference", task_uuid="u")
    assert derive_code(obj["code"]) == "validation"
    assert obj.get("parameter", "") == parameter


def test_refusals_are_quota_for_budgets_and_rate_limit_for_the_rate():
    budget = protocol.from_refusal(Refused("over budget"), task_type="imageInference", task_uuid="u")
    rate = protocol.from_refusal(Refused("too fast", code="rateLimit"), task_type="imageInference", task_uuid="u")
    assert derive_code(budget["code"]) == "quota"
    assert derive_code(rate["code"]) == "rateLimit"


@pytest.mark.parametrize(("field", "stable"), [("model", "validation"), ("taskType", "validation"), ("apiKey", "auth")])
def test_a_refusal_naming_the_model_the_task_type_or_the_key_names_it(field, stable):
    obj = protocol.from_refusal(Refused("no", field=field, code="rule"), task_type="imageInference", task_uuid="u")
    assert derive_code(obj["code"]) == stable
    assert obj["parameter"] == field


def test_an_unknown_key_is_an_auth_error():
    assert derive_code("invalidApiKey") == "auth"
    assert derive_code("missingApiKey") == "auth"
