"""Another member's task, image or conversation is 404, on every object URL and every socket action.

The URL table is checked against the resolver: a new URL with a `<uuid:…>` or `<int:…>` parameter
(or a new `action_…` on a consumer) without an entry here makes the completeness tests fail, so
every object route must say how it is kept to its owner.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter

from runware_web.accounts import audit
from runware_web.accounts import invitations as invites
from runware_web.accounts.models import AuditEntry, Invitation, Role, Team
from runware_web.audio.consumers import AudioConsumer
from runware_web.chat.consumers import NO_SUCH_CONVERSATION, ChatConsumer
from runware_web.chat.models import Conversation
from runware_web.chat.text_models import DEFAULT_MODEL
from runware_web.endpoint.keys import create_key
from runware_web.endpoint.models import ApiKey
from runware_web.media.models import Image
from runware_web.spend.consumers import SpendConsumer
from runware_web.studio.consumers import NO_SUCH_GENERATION, StudioConsumer
from runware_web.threed.consumers import ThreeDConsumer
from runware_web.tools.consumers import NO_SUCH_IMAGE, ToolsConsumer
from runware_web.video.consumers import VideoConsumer
from runware_web.upstream.models import Task, Worker
from tests.hardening.helpers import (
    ALERT,
    connected,
    drain,
    make_conversation,
    make_image,
    make_task,
    member_socket,
    receive_alert,
    receive_until,
)

# ------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Route:
    """How one object URL is reached with another member's object.

    `owner_of`: which of Mallory's objects fills the URL ("image", "task", "running_task",
    "conversation", "member", "team"). `get` / `post`: the methods the view accepts (the POST body is
    what a real form sends, so the view gets as far as it can). Methods not listed must be refused
    (405) whatever the object.
    """

    owner_of: str
    get: bool = False
    post: dict[str, Any] | None = None


CHAT_SETTINGS = {"model": DEFAULT_MODEL, "systemPrompt": "", "maxTokens": "256", "temperature": "1"}

ROUTES: dict[str, Route] = {
    "studio:generation": Route("task", get=True),
    "studio:cancel": Route("running_task", post={}),
    "history:row": Route("task", get=True),
    "gallery:detail": Route("image", get=True),
    "gallery:file": Route("image", get=True),
    "gallery:thumb": Route("image", get=True),
    "gallery:download": Route("image", get=True),
    "gallery:favourite": Route("image", post={"value": "1"}),
    "gallery:share": Route("image", post={"value": "1"}),
    "gallery:delete": Route("image", post={}),
    "gallery:restore": Route("image", post={}),
    "chat:conversation": Route("conversation", get=True),
    "chat:rename": Route("conversation", post={"title": "renamed by alice"}),
    "chat:settings": Route("conversation", post=CHAT_SETTINGS),
    "chat:delete": Route("conversation", post={}),
    "chat:send": Route("conversation", post={"content": "hello from alice"}),
    "chat:stop": Route("conversation", post={}),
    "chat:regenerate": Route("conversation", post={}),
    "chat:edit": Route("conversation", post={"message": "1", "content": "edited by alice"}),
    "activity:cancel": Route("running_task", post={}),
    # Staff pages: to a member they do not exist, whoever the budget belongs to.
    "spend:member_budget": Route("member", post={"monthly_budget": "0.01"}),
    "spend:team_budget": Route("team", post={"monthly_budget": "0.01"}),
    # A member's API key: only its owner (or staff) may revoke it.
    "endpoint:revoke": Route("api_key", post={}),
    # Team admin pages: to a plain member they do not exist; to a team admin, another team's do not.
    "team:revoke_invitation": Route("invitation", post={}),
    "team:member": Route("member", post={"role": "team_admin", "monthly_budget": "0.01"}),
    "team:team_budget": Route("team", post={"monthly_budget": "0.01"}),
    "team:team_rules": Route("team", post={"allowed_models": "runware:", "max_task_cost": "0.01"}),
    "team:team_webhook": Route("team", post={"alert_webhook_url": "https://hooks.example.com/alice"}),
}


def object_routes() -> dict[str, str]:
    """Every URL pattern with a `<uuid:…>` or `<int:…>` parameter: {"namespace:name": route}."""
    found: dict[str, str] = {}

    def walk(patterns: list, namespaces: list[str], prefix: str, converters: dict) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = [*namespaces, pattern.namespace] if pattern.namespace else namespaces
                walk(pattern.url_patterns, inner, prefix + str(pattern.pattern),
                     {**converters, **pattern.pattern.converters})
                continue
            assert isinstance(pattern, URLPattern)
            every = {**converters, **pattern.pattern.converters}
            if any(isinstance(c, (UUIDConverter, IntConverter)) for c in every.values()):
                found[":".join([*namespaces, pattern.name or "?"])] = prefix + str(pattern.pattern)

    walk(get_resolver().url_patterns, [], "/", {})
    return found


def test_the_table_covers_every_object_url():
    routes = object_routes()
    missing = sorted(set(routes) - set(ROUTES))
    assert not missing, f"object URLs without an isolation entry in {__name__}.ROUTES: {missing}"
    stale = sorted(set(ROUTES) - set(routes))
    assert not stale, f"entries for URLs that no longer exist: {stale}"


# ------------------------------------------------------------------------------------ Mallory's things


@dataclass
class Theirs:
    image: Image
    task: Task
    running_task: Task
    conversation: Conversation
    member: Any
    team: Team
    api_key: Any = None
    invitation: Any = None
    snapshot: dict[str, Any] = field(default_factory=dict)

    def kwargs_for(self, route: Route) -> Any:
        return getattr(self, route.owner_of).pk

    def state(self) -> dict[str, Any]:
        """Everything an intruder could try to change, read afresh from the database."""
        image = Image.objects.get(pk=self.image.pk)
        conversation = Conversation.objects.get(pk=self.conversation.pk)
        self.member.refresh_from_db()
        self.team.refresh_from_db()
        return {
            "image": (image.favourite, image.shared_with_team, image.deleted_at),
            "tasks": sorted(Task.objects.filter(user=self.member).values_list("id", "status")),
            "conversation": (conversation.title, conversation.model, conversation.max_tokens),
            "messages": list(conversation.messages.values_list("id", "content", "status", "replaced")),
            "budgets": (self.member.monthly_budget, self.team.monthly_budget),
            "periods": (self.member.budget_period, self.team.budget_period),
            "rules": (self.team.allowed_models, self.team.max_task_cost),
            "role": self.member.role,
            "api_key": ApiKey.objects.filter(pk=self.api_key.pk).values_list("revoked_at", flat=True).first(),
            "invitation": Invitation.objects.get(pk=self.invitation.pk).status,
        }


def mallorys_things(mallory: Any) -> Theirs:
    team = Team.objects.create(name="Mallory's crew")
    mallory.team = team
    mallory.save(update_fields=["team"])
    image = make_image(mallory, "mallory's private picture", task=make_task(mallory))
    theirs = Theirs(
        image=image,
        task=image.task,
        # Running on another worker that is alive, so no runner adopts it during the test.
        running_task=make_task(mallory, status=Task.Status.RUNNING,
                               worker=Worker.objects.create(id="another-live-worker").id),
        conversation=make_conversation(mallory),
        member=mallory,
        team=team,
        api_key=create_key(mallory, name="mallory's script")[0],
        invitation=invites.issue(team=team, role=Role.MEMBER, by=mallory, days=7).invitation,
    )
    theirs.snapshot = theirs.state()
    return theirs


@pytest.fixture
def theirs(transactional_db, other_user) -> Theirs:
    return mallorys_things(other_user)


# ------------------------------------------------------------------------------------ over HTTP


def url_of(name: str, theirs: Theirs) -> str:
    route = ROUTES[name]
    pattern = object_routes()[name]
    parameter = pattern[pattern.index("<") + 1 : pattern.index(">")].split(":")[1]
    return reverse(name, kwargs={parameter: theirs.kwargs_for(route)})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_another_members_object_is_404_on_every_url(alice_client, theirs, name):
    route = ROUTES[name]
    url = url_of(name, theirs)

    got = alice_client.get(url)
    posted = alice_client.post(url, route.post or {})

    assert got.status_code == (404 if route.get else 405), f"GET {url}"
    assert posted.status_code == (404 if route.post is not None else 405), f"POST {url}"
    assert b"mallory" not in got.content.lower() + posted.content.lower()
    assert theirs.state() == theirs.snapshot


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_an_id_that_does_not_exist_is_404_too(alice_client, theirs, name):
    """The same answer as for someone else's object: the URL does not tell which ids exist."""
    route = ROUTES[name]
    pattern = object_routes()[name]
    parameter, converter = pattern[pattern.index("<") + 1 : pattern.index(">")].split(":")[::-1]
    missing = 987654321 if converter == "int" else uuid.uuid4()
    url = reverse(name, kwargs={parameter: missing})
    response = alice_client.post(url, route.post) if route.post is not None else alice_client.get(url)
    assert response.status_code == 404


# Object ids that travel in the query string or the form body rather than the path.
BODY_ROUTES = [
    ("get", "studio:image_input", lambda t: {"target": "seedImage", "image": t.image.pk}),
    ("get", "tools:index", lambda t: {"image": t.image.pk}),
    ("get", "chat:index", lambda t: {"task": t.conversation.messages.get(role="assistant").task_id}),
    ("post", "gallery:selection", lambda t: {"ids": [t.image.pk], "action": "favourite"}),
    ("post", "gallery:selection", lambda t: {"ids": [t.image.pk], "action": "zip"}),
    ("post", "studio:upload", lambda t: {"target": "maskImage", "source": t.image.pk}),
    ("post", "tools:run", lambda t: {"image": t.image.pk, "model": "runware:150@2"}),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method, name, data", BODY_ROUTES, ids=[f"{m} {n}" for m, n, _ in BODY_ROUTES])
def test_another_members_id_in_a_query_or_form_is_404(alice_client, theirs, method, name, data):
    url = reverse(name, kwargs={"task_type": "caption"} if name == "tools:run" else None)
    response = getattr(alice_client, method)(url, data(theirs))
    assert response.status_code == 404
    assert theirs.state() == theirs.snapshot
    assert not Task.objects.filter(user__username="alice").exists()


@pytest.mark.django_db(transaction=True)
def test_a_team_admin_gets_404_for_another_teams_invitations(alice_client, user, theirs):
    """Alice runs her own team: Mallory's team's invitations are not there for her, by id or by filter."""
    user.role = Role.TEAM_ADMIN
    user.save(update_fields=["role"])
    assert alice_client.get(reverse("team:invitations")).status_code == 200  # the control: her own page works
    revoked = alice_client.post(reverse("team:revoke_invitation", args=[theirs.invitation.pk]))
    listed = alice_client.get(reverse("team:invitations"), {"team": theirs.team.pk})
    made = alice_client.post(reverse("team:invitations"), {"team": theirs.team.pk, "role": "member", "days": 7})
    assert (revoked.status_code, listed.status_code, made.status_code) == (404, 404, 400)
    own_page = alice_client.get(reverse("team:invitations")).content.decode()
    assert "mallory" not in (own_page + listed.content.decode() + made.content.decode()).lower()
    assert not Invitation.objects.filter(team=theirs.team).exclude(pk=theirs.invitation.pk).exists()
    assert theirs.state() == theirs.snapshot


@pytest.mark.django_db(transaction=True)
def test_a_team_admin_gets_404_for_another_teams_members_and_budget(alice_client, user, theirs):
    """Alice runs her own team: Mallory and Mallory's team cannot be seen or changed from her pages."""
    user.role = Role.TEAM_ADMIN
    user.save(update_fields=["role"])
    assert alice_client.get(reverse("team:members")).status_code == 200  # the control: her own page works
    listed = alice_client.get(reverse("team:members"), {"team": theirs.team.pk})
    member = alice_client.post(reverse("team:member", args=[theirs.member.pk]),
                               {"role": "member", "monthly_budget": "0.01"})
    budget = alice_client.post(reverse("team:team_budget", args=[theirs.team.pk]), {"monthly_budget": "0.01"})
    assert (listed.status_code, member.status_code, budget.status_code) == (404, 404, 404)
    own_page = alice_client.get(reverse("team:members")).content.decode()
    assert "mallory" not in (own_page + listed.content.decode()).lower()
    assert theirs.state() == theirs.snapshot


@pytest.mark.django_db(transaction=True)
def test_a_team_admin_gets_404_for_another_teams_model_rules(alice_client, user, theirs):
    """Alice runs her own team: Mallory's team's rules can be neither read nor changed from her pages."""
    theirs.team.allowed_models = "civitai:777@"
    theirs.team.save(update_fields=["allowed_models"])
    theirs.snapshot = theirs.state()
    user.role = Role.TEAM_ADMIN
    user.save(update_fields=["role"])
    assert alice_client.get(reverse("team:rules")).status_code == 200  # the control: her own page works
    listed = alice_client.get(reverse("team:rules"), {"team": theirs.team.pk})
    changed = alice_client.post(reverse("team:team_rules", args=[theirs.team.pk]),
                                {"allowed_models": "runware:", "max_task_cost": "0.01"})
    assert (listed.status_code, changed.status_code) == (404, 404)
    own_page = alice_client.get(reverse("team:rules")).content.decode()
    assert "civitai:777@" not in own_page + listed.content.decode()
    assert "mallory" not in own_page.lower()
    assert theirs.state() == theirs.snapshot


@pytest.mark.django_db(transaction=True)
def test_a_team_admin_sees_none_of_another_teams_audit_entries(alice_client, user, theirs):
    """Mallory's team has entries (the invitation made for it, a budget change); Alice's page and CSV
    show only her own team's, and asking for Mallory's team by filter is not possible."""
    audit.record(audit.Action.BUDGET, by=theirs.member, team=theirs.team, target="team Mallory's crew",
                 before=None, after="5")
    audit.record(audit.Action.ROLE, by=user, team=user.team, target="member alice", before="Member",
                 after="Team admin")
    user.role = Role.TEAM_ADMIN
    user.save(update_fields=["role"])
    assert AuditEntry.objects.filter(team=theirs.team).count() >= 2

    page = alice_client.get(reverse("team:audit"))
    filtered = alice_client.get(reverse("team:audit"), {"team": theirs.team.pk, "action": "budget"})
    csv_text = b"".join(alice_client.get(reverse("team:audit_csv"), {"team": theirs.team.pk}).streaming_content)

    assert page.status_code == 200 and "member alice" in page.content.decode()
    assert "No entries" in filtered.content.decode()
    assert csv_text.decode().count("\n") == 2  # the header and Alice's one entry
    everything = (page.content + filtered.content + csv_text).decode().lower()
    assert "mallory" not in everything


@pytest.mark.django_db(transaction=True)
def test_a_plain_member_has_no_team_pages(alice_client, theirs):
    for name in ("team:members", "team:audit", "team:audit_csv"):
        assert alice_client.get(reverse(name)).status_code == 404, name


@pytest.mark.django_db(transaction=True)
def test_the_studio_never_prefills_another_members_image_or_settings(alice_client, theirs):
    response = alice_client.get(reverse("studio:index"), {"reuse": theirs.image.pk, "seedImage": theirs.image.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert "not available" in page and "not in your gallery" in page
    assert str(theirs.image.pk) not in page
    assert "mallory" not in page.lower()


@pytest.mark.django_db(transaction=True)
def test_the_admin_is_closed_to_members(alice_client, theirs):
    url = reverse("admin:accounts_user_change", args=[theirs.member.pk])
    response = alice_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# ------------------------------------------------------------------------------------ over the sockets

# Every action of every consumer: what it is sent with Mallory's id, and the error it must answer.
# None: the action names no object of a member (checked by the completeness test all the same).
SOCKET_ACTIONS: dict[tuple[str, str], tuple[Any, str] | None] = {
    ("/ws/studio/", "cancel"): (lambda t: {"task": str(t.running_task.pk)}, NO_SUCH_GENERATION),
    ("/ws/studio/", "watch"): (lambda t: {"task": str(t.task.pk)}, NO_SUCH_GENERATION),
    ("/ws/studio/", "generate"): (
        lambda t: {"positivePrompt": "a lighthouse", "model": "runware:101@1", "width": "256", "height": "256",
                   "numberResults": "1", "seedImage": str(t.image.pk), "strength": "0.8"},
        "not in your gallery",
    ),
    ("/ws/chat/", "send"): (lambda t: {"conversation": str(t.conversation.pk), "content": "hi"}, NO_SUCH_CONVERSATION),
    ("/ws/chat/", "stop"): (lambda t: {"conversation": str(t.conversation.pk)}, NO_SUCH_CONVERSATION),
    ("/ws/chat/", "regenerate"): (lambda t: {"conversation": str(t.conversation.pk)}, NO_SUCH_CONVERSATION),
    ("/ws/chat/", "settings"): (
        lambda t: {"conversation": str(t.conversation.pk), **CHAT_SETTINGS, "maxTokens": "7"}, NO_SUCH_CONVERSATION,
    ),
    ("/ws/tools/", "caption"): (lambda t: {"image": str(t.image.pk), "model": "runware:150@2"}, NO_SUCH_IMAGE),
    ("/ws/tools/", "upscale"): (
        lambda t: {"image": str(t.image.pk), "model": "runware:500@1", "upscaleFactor": "2", "outputFormat": "PNG"},
        NO_SUCH_IMAGE,
    ),
    ("/ws/tools/", "removeBackground"): (
        lambda t: {"image": str(t.image.pk), "model": "runware:112@5", "outputFormat": "PNG", "rgba": "#ffffff"},
        NO_SUCH_IMAGE,
    ),
    ("/ws/tools/", "controlNetPreprocess"): (
        lambda t: {"image": str(t.image.pk), "model": "runware:controlnet-preprocess@depth"}, NO_SUCH_IMAGE,
    ),
    ("/ws/tools/", "imageMasking"): (lambda t: {"image": str(t.image.pk), "model": "runware:35@1"}, NO_SUCH_IMAGE),
    ("/ws/chat/", "edit"): (
        lambda t: {"conversation": str(t.conversation.pk), "message": "1", "content": "hi"}, NO_SUCH_CONVERSATION,
    ),
    ("/ws/video/", "cancel"): (lambda t: {"task": str(t.running_task.pk)}, "There is no such video of yours."),
    ("/ws/video/", "tool"): (lambda t: {"tool": "caption", "video": str(t.image.pk)}, "There is no such video of yours."),
    ("/ws/audio/", "cancel"): (lambda t: {"task": str(t.running_task.pk)}, "There is no such audio clip of yours."),
    ("/ws/3d/", "cancel"): (lambda t: {"task": str(t.running_task.pk)}, "of yours"),
    ("/ws/3d/", "generate"): (lambda t: {"image": str(t.image.pk)}, "Select a valid choice"),
}
# Actions not run above: audio's generate names no object of a member; video's generate names frame
# images, and another member's image as a frame is refused in tests/video/test_image_to_video.py.
SOCKET_ACTIONS_WITHOUT_OBJECTS = {("/ws/audio/", "generate"), ("/ws/video/", "generate")}
# The staff spend socket refuses members at the handshake, so none of its actions can be reached.
STAFF_ONLY_SOCKETS = {"/ws/spend/": SpendConsumer}
CONSUMERS = {
    "/ws/studio/": StudioConsumer, "/ws/chat/": ChatConsumer, "/ws/tools/": ToolsConsumer,
    "/ws/video/": VideoConsumer, "/ws/audio/": AudioConsumer, "/ws/3d/": ThreeDConsumer,
}


def test_the_table_covers_every_socket_action():
    actions = {(path, name.removeprefix("action_")) for path, consumer in CONSUMERS.items()
               for name in dir(consumer) if name.startswith("action_")}
    listed = set(SOCKET_ACTIONS) | SOCKET_ACTIONS_WITHOUT_OBJECTS
    missing = sorted(actions - listed)
    assert not missing, f"socket actions without an isolation entry: {missing}"
    assert not sorted(listed - actions), "entries for actions that no longer exist"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path, action", sorted(SOCKET_ACTIONS), ids=[f"{p}{a}" for p, a in sorted(SOCKET_ACTIONS)])
async def test_another_members_id_over_the_socket_is_no_such(user, other_user, path, action, upstream):
    theirs = await database_sync_to_async(mallorys_things)(other_user)
    data, message = SOCKET_ACTIONS[(path, action)]
    ws = await connected(user, path)
    await drain(ws)

    await ws.send_json_to({"action": action, **data(theirs)})
    reply = await receive_until(ws, lambda frame: message in frame or ALERT in frame)

    assert message in reply
    assert "mallory" not in reply.lower()
    assert await database_sync_to_async(theirs.state)() == theirs.snapshot
    assert not await Task.objects.filter(user=user).aexists(), "nothing may be started for alice"
    await ws.send_json_to({"action": "no_such_action"})
    assert "Unknown action" in await receive_alert(ws), "the socket stays open"
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path, query", [
    ("/ws/studio/", lambda t: f"task={t.task.pk}"),
    ("/ws/chat/", lambda t: f"conversation={t.conversation.pk}"),
    ("/ws/tools/", lambda t: f"image={t.image.pk}"),
])
async def test_a_socket_opened_on_another_members_object_shows_nothing_of_it(user, other_user, path, query, upstream):
    theirs = await database_sync_to_async(mallorys_things)(other_user)
    ws = await connected(user, f"{path}?{query(theirs)}")
    frames = "".join(await drain(ws))
    assert "mallory" not in frames.lower()
    assert str(theirs.image.pk) not in frames and "the secret is 42" not in frames
    if path == "/ws/studio/":
        assert NO_SUCH_GENERATION in frames
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", sorted(STAFF_ONLY_SOCKETS))
async def test_a_member_cannot_open_a_staff_socket(user, path):
    ws = await member_socket(user, path)
    ok, _ = await ws.connect(timeout=10)
    assert not ok
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_alices_own_objects_work_on_the_same_socket_actions(user, upstream):
    """The control: the same frames with Alice's own ids are not refused (so the 404s above mean
    something)."""
    mine = await database_sync_to_async(lambda: make_task(user, status=Task.Status.DONE))()
    ws = await connected(user, "/ws/studio/")
    await drain(ws)
    await ws.send_json_to({"action": "watch", "task": str(mine.pk)})
    frame = await ws.receive_from(timeout=10)
    assert ALERT not in frame and f"gen-{mine.pk}" in frame
    await ws.disconnect()
