"""Each turn sends the whole conversation, trimmed from the oldest to fit the model's limit."""

from __future__ import annotations

import pytest

from runware_web.chat import text_models
from runware_web.chat.turns import TooLong, estimate_tokens, fit


@pytest.fixture
def small_model(monkeypatch):
    monkeypatch.setitem(text_models.CONTEXT_TOKENS, "openai:gpt@5-mini", 200)
    return "openai:gpt@5-mini"


def test_a_short_conversation_is_sent_whole():
    history = [("user", "hi"), ("assistant", "hello"), ("user", "how are you?")]
    fitted = fit(history, model="openai:gpt@5-mini", system_prompt="", max_tokens=100)
    assert fitted.messages == [{"role": r, "content": c} for r, c in history]
    assert fitted.left_out == 0


def test_the_oldest_messages_are_left_out_first(small_model):
    old = "x" * 300  # ~79 tokens each
    history = [("user", old), ("assistant", old), ("user", old), ("assistant", "short"), ("user", "latest")]
    fitted = fit(history, model=small_model, system_prompt="", max_tokens=50)
    assert fitted.messages[-1] == {"role": "user", "content": "latest"}
    assert fitted.messages[0]["role"] == "user"  # never opens with the assistant
    assert fitted.left_out == len(history) - len(fitted.messages) > 0
    assert sum(estimate_tokens(m["content"]) for m in fitted.messages) <= 200 - 50


def test_the_system_prompt_and_reply_length_are_reserved(small_model):
    history = [("user", "a" * 200), ("assistant", "b" * 200), ("user", "c" * 200)]
    roomy = fit(history, model=small_model, system_prompt="", max_tokens=10)
    tight = fit(history, model=small_model, system_prompt="s" * 300, max_tokens=10)
    assert roomy.left_out == 0 and tight.left_out == 2


def test_a_message_too_long_for_the_model_is_refused_with_what_to_do(small_model):
    with pytest.raises(TooLong, match="Shorten it, lower Max tokens"):
        fit([("user", "y" * 2000)], model=small_model, system_prompt="", max_tokens=10)


def test_only_registry_text_models_are_offered():
    from runware import models

    offered = dict(text_models.model_choices())
    assert text_models.DEFAULT_MODEL in offered
    assert all(models[air].task_type == "textInference" for air in offered)
