"""Forms for chat. Field names are Runware's parameter names (`model`, `maxTokens`, `temperature`,
`systemPrompt`, a message's `content`), so a valid form maps onto a textInference task directly.
The same forms validate WebSocket frames and the plain POST fallback."""

from __future__ import annotations

from typing import Any

from django import forms

from runware_web.accounts.models import User
from runware_web.chat.models import Conversation
from runware_web.chat.text_models import context_tokens, label, model_choices

MAX_MESSAGE_CHARS = 60_000
MAX_SYSTEM_PROMPT_CHARS = 20_000
MAX_REPLY_TOKENS = 32_000


class ChatForm(forms.Form):
    # Errors are shown by the server next to the field, the same way over the socket and over HTTP.
    use_required_attribute = False


def allowed_model_choices(user: User, current: str = "") -> list[tuple[str, str]]:
    """The text models the member's team rules allow (the conversation's own model stays listed,
    so the picker never misstates which model is set; admission still refuses it by the rule)."""
    team = user.team
    choices = [(air, name) for air, name in model_choices() if team is None or team.allows_model(air)]
    if current and all(air != current for air, _ in choices):
        choices.insert(0, (current, label(current)))
    return choices


class MessageForm(ChatForm):
    content = forms.CharField(
        label="Message",
        max_length=MAX_MESSAGE_CHARS,
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Ask anything. Enter sends, Shift+Enter adds a line.", "data-chat-input": ""}
        ),
        error_messages={"required": "Write a message first."},
    )
    model = forms.ChoiceField(
        label="Model",
        required=False,
        choices=model_choices,
        error_messages={"invalid_choice": "Pick one of the listed text models."},
    )

    @classmethod
    def for_conversation(cls, conversation: Conversation, data: dict[str, Any] | None = None) -> MessageForm:
        """The composer: the message, and the model the next reply comes from (the conversation's)."""
        form = cls(data, initial={"model": conversation.model})
        form.fields["model"].choices = allowed_model_choices(conversation.user, conversation.model)
        form.fields["model"].widget.attrs["id"] = f"composer-model-{conversation.pk}"
        return form

    def clean_content(self) -> str:
        content = self.cleaned_data["content"]
        if not content.strip():
            raise forms.ValidationError("Write a message first.")
        return content


class SettingsForm(ChatForm):
    """How the conversation's replies are written; the model is picked in the composer."""

    systemPrompt = forms.CharField(
        label="System prompt",
        required=False,
        max_length=MAX_SYSTEM_PROMPT_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Optional: how the assistant should behave."}),
        help_text="Sent with every turn of this conversation.",
    )
    maxTokens = forms.IntegerField(
        label="Max tokens",
        min_value=1,
        max_value=MAX_REPLY_TOKENS,
        help_text="The longest reply, in tokens (about ¾ of a word each).",
    )
    temperature = forms.FloatField(
        label="Temperature",
        min_value=0,
        max_value=2,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        help_text="0 is focused and repeatable, 2 is the most varied.",
    )

    def __init__(self, *args: Any, conversation: Conversation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conversation = conversation

    @classmethod
    def for_conversation(cls, conversation: Conversation, data: dict[str, Any] | None = None) -> SettingsForm:
        initial = {
            "systemPrompt": conversation.system_prompt,
            "maxTokens": conversation.max_tokens,
            "temperature": conversation.temperature,
        }
        return cls(data, initial=initial, conversation=conversation)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model, max_tokens = self.conversation.model, cleaned.get("maxTokens")
        if max_tokens and max_tokens >= context_tokens(model):
            self.add_error("maxTokens", f"This model reads at most {context_tokens(model):,} tokens in all; "
                                        "ask for a shorter reply.")
        return cleaned

    def save(self, conversation: Conversation) -> None:
        data = self.cleaned_data
        conversation.system_prompt = data["systemPrompt"]
        conversation.max_tokens = data["maxTokens"]
        conversation.temperature = data["temperature"]
        conversation.save(update_fields=["system_prompt", "max_tokens", "temperature"])


class EditForm(ChatForm):
    """Edit and resend one of the member's messages."""

    message = forms.IntegerField(widget=forms.HiddenInput)
    content = forms.CharField(
        label="Edit message",
        max_length=MAX_MESSAGE_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write a message first."},
    )

    def clean_content(self) -> str:
        content = self.cleaned_data["content"]
        if not content.strip():
            raise forms.ValidationError("Write a message first.")
        return content


class RenameForm(ChatForm):
    title = forms.CharField(
        label="Title", max_length=120, error_messages={"required": "Give the conversation a title."}
    )

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the conversation a title.")
        return title


class SearchForm(forms.Form):
    q = forms.CharField(label="Search conversations", required=False, max_length=200, strip=True)
