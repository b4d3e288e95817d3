"""Error mapping in one place, and the API key kept out of every message and log line."""

from __future__ import annotations

import logging

import pytest
from runware import create_runware_error

from runware_web.upstream.errors import MESSAGES, from_sdk
from runware_web.upstream.log_redaction import RedactApiKey

STABLE_CODES = ["validation", "auth", "quota", "rateLimit", "safety", "provider", "timeout", "notFound",
                "serverError", "connection", "aborted", "unknown"]

RAW = {"validation": "invalidWidth", "auth": "invalidApiKey", "quota": "insufficientCredits",
       "rateLimit": "rateLimitExceeded", "safety": "contentPolicyViolation", "provider": "inferenceError",
       "timeout": "providerTimeout", "notFound": "modelNotFound", "serverError": "internalServerError",
       "connection": "connectionLost", "aborted": "aborted", "unknown": "somethingOdd"}


@pytest.mark.parametrize("stable", STABLE_CODES)
def test_every_sdk_error_code_has_an_actionable_message(stable):
    error = from_sdk(create_runware_error(RAW[stable], "upstream words"))
    assert error.code == stable
    assert error.message == MESSAGES[stable] or "Change it" in error.message
    assert error.message.endswith(".") or error.message.endswith(":")
    assert error.full_message.endswith("(upstream words)")


def test_a_validation_error_names_its_parameter():
    exc = create_runware_error("invalidWidth", "Width must be a multiple of 64", parameter="width")
    error = from_sdk(exc)
    assert error.parameter == "width"
    assert "“width”" in error.message


def test_the_key_is_redacted_from_messages(settings):
    settings.RUNWARE_API_KEY = "sk-live-abcdef123456"
    error = from_sdk(create_runware_error("invalidApiKey", "Key sk-live-abcdef123456 is not valid"))
    assert "sk-live-abcdef123456" not in error.full_message
    assert "[redacted]" in error.detail


def test_the_log_filter_redacts_the_key(settings):
    settings.RUNWARE_API_KEY = "sk-live-abcdef123456"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sending %s", ("sk-live-abcdef123456",), None)
    RedactApiKey().filter(record)
    assert record.getMessage() == "sending [redacted]"


def test_a_stream_cut_off_below_the_sdk_is_a_lost_connection():

    import aiohttp

    assert from_sdk(aiohttp.ClientPayloadError("Response payload is not completed")).code == "connection"
    assert from_sdk(TimeoutError()).code == "timeout"
    assert from_sdk(ValueError("odd")).code == "unknown"
