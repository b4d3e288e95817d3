"""Chat pages, and the plain POST fallback of every socket action (same forms, same services).

Login is required everywhere (LoginRequiredMiddleware); a conversation that is not the member's
is a 404. Views that start or stop a reply are async: the runner's tasks must live in the server's
event loop, never in a request thread.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.contrib import messages
from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import User
from runware_web.chat.access import get_conversation_of_task, get_own_conversation
from runware_web.chat.forms import EditForm, MessageForm, RenameForm, SearchForm, SettingsForm
from runware_web.chat.models import Conversation
from runware_web.chat.services import (
    ChatError,
    delete_conversation,
    edit_message,
    new_conversation,
    regenerate,
    send_message,
    stop,
    thread_state,
)
from runware_web.live.render import render_page
from runware_web.money.models import Charge
from runware_web.runner import detached


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every conversation of the member, newest first, with what each cost; `?q=` searches titles
    and messages (htmx asks for the "results" partial as the member types)."""
    if "task" in request.GET:  # links from History: /chat/?task=<task uuid>
        return redirect(get_conversation_of_task(request.user, request.GET["task"]))
    search = SearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    mine = Conversation.objects.for_user(request.user)
    if query:
        matching = Q(title__icontains=query) | Q(messages__content__icontains=query, messages__replaced=False)
        mine = mine.filter(pk__in=Conversation.objects.filter(matching).values("pk"))
    # The cost of every reply ever written in the conversation (replaced ones too: they were
    # billed), summed from the ledger's rows.
    costs = (
        Charge.objects.filter(task__chat_message__conversation=OuterRef("pk"))
        .order_by()
        .values("task__chat_message__conversation")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    conversations = mine.annotate(
        message_count=Count("messages", filter=Q(messages__replaced=False)),
        cost=Subquery(costs, output_field=DecimalField()),
    ).order_by("-updated_at")
    context = {
        "conversations": conversations,
        "search": search,
        "query": query,
        "has_any": Conversation.objects.for_user(request.user).exists(),
    }
    return render_page(request, "chat/index.html", context)


@require_POST
def new(request: AuthenticatedHttpRequest) -> HttpResponseRedirect:
    return redirect(new_conversation(request.user))


@require_safe
def conversation(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponse:
    return _render_page(request, request.user, conversation_id)


@require_POST
def rename(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponse:
    chat = get_own_conversation(request.user, conversation_id)
    form = RenameForm(request.POST)
    if not form.is_valid():
        return _render_page(request, request.user, conversation_id, rename_form=form, status=400)
    chat.title = form.cleaned_data["title"]
    chat.save(update_fields=["title"])
    messages.success(request, "Conversation renamed.")
    return redirect("chat:index" if request.POST.get("next") == "list" else chat)


@require_POST
def save_settings(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponse:
    chat = get_own_conversation(request.user, conversation_id)
    form = SettingsForm.for_conversation(chat, request.POST)
    if not form.is_valid():
        return _render_page(request, request.user, conversation_id, settings_form=form, status=400)
    form.save(chat)
    messages.success(request, "Settings saved; they apply from the next message.")
    return redirect(chat)


@require_POST
async def delete(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponseRedirect:
    user = await request.auser()
    await detached(delete_conversation(user=user, conversation_id=conversation_id))
    await sync_to_async(messages.success)(request, "Conversation deleted.")
    return redirect("chat:index")


@require_POST
async def send(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponse:
    user = await request.auser()
    form = await database_sync_to_async(_message_form)(user, conversation_id, request.POST)
    if form.is_valid():
        try:
            await detached(send_message(
                user=user,
                conversation_id=conversation_id,
                content=form.cleaned_data["content"],
                model=form.cleaned_data["model"],
            ))
        except ChatError as error:
            form.add_error("content", error.message)
        else:
            return _back_to(conversation_id)
    return await database_sync_to_async(_render_page)(request, user, conversation_id, form=form, status=400)


@require_POST
async def edit(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponse:
    user = await request.auser()
    await database_sync_to_async(get_own_conversation)(user, conversation_id)  # 404 for anyone else's
    form = EditForm(request.POST)
    if form.is_valid():
        try:
            await detached(edit_message(
                user=user,
                conversation_id=conversation_id,
                message_id=form.cleaned_data["message"],
                content=form.cleaned_data["content"],
            ))
        except ChatError as error:
            await sync_to_async(messages.error)(request, error.message)
    else:
        await sync_to_async(messages.error)(request, "Write a message first.")
    return _back_to(conversation_id)


@require_POST
async def stop_reply(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponse:
    return await _act(request, conversation_id, stop)


@require_POST
async def regenerate_reply(request: AuthenticatedHttpRequest, conversation_id: str) -> HttpResponse:
    return await _act(request, conversation_id, regenerate)


async def _act(request: AuthenticatedHttpRequest, conversation_id: str, action: Any) -> HttpResponse:
    user = await request.auser()
    try:
        await detached(action(user=user, conversation_id=conversation_id))
    except ChatError as error:
        await sync_to_async(messages.error)(request, error.message)
    return _back_to(conversation_id)


def _message_form(user: User, conversation_id: str, data: Any) -> MessageForm:
    form = MessageForm.for_conversation(get_own_conversation(user, conversation_id), data)
    form.is_valid()  # the model choices read the team's rules: validate here, not in the event loop
    return form


def _back_to(conversation_id: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("chat:conversation", args=[conversation_id]) + "#composer")


def _render_page(
    request: AuthenticatedHttpRequest,
    user: User,
    conversation_id: str,
    *,
    form: MessageForm | None = None,
    settings_form: SettingsForm | None = None,
    rename_form: RenameForm | None = None,
    status: int = 200,
) -> HttpResponse:
    chat = get_own_conversation(user, conversation_id)
    context = {
        **thread_state(chat),
        "form": form or MessageForm.for_conversation(chat),
        "settings_form": settings_form or SettingsForm.for_conversation(chat),
        "rename_form": rename_form or RenameForm(initial={"title": chat.title}),
        "conversations": list(Conversation.objects.for_user(user)),
        "current": chat,
    }
    return render_page(request, "chat/conversation.html", context, status=status)
