"""An installation of the previous layout upgrades with `python3 manage.py migrate` and loses nothing.

Commit bc34088 moved the Image model from the gallery app to media, and the ledger (Charge and
BalanceReading) from spend to money: the models change app in Django's state, their tables are
renamed (gallery_image → media_image, spend_charge → money_charge, spend_balancereading →
money_balancereading) and their content types follow. What an operator fears from such an upgrade:
a table dropped and made anew (every picture and every cent gone), a file that no longer opens, a
picture, task, charge or tool run whose link points nowhere, an index or a unique constraint left
behind, admin history and permissions stranded on a content type no app owns, and spend pages that
add up to something else afterwards.

The test builds such an installation: it migrates the database back to the previous layout, fills
it through that layout's own (historical) models with real files in storage, migrates forward as
`migrate` does, and looks for each of those losses.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as current_apps
from django.apps.registry import Apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.chat.models import Message
from runware_web.lib.money import usd
from runware_web.media.models import Image
from runware_web.money.models import BalanceReading, Charge
from runware_web.studio.models import Generation
from runware_web.tools.models import TextResult
from tests.images import decoded, encoded, png_bytes

# The newest migration of each portal app before the layers; media and money did not exist yet.
PREVIOUS_LAYOUT = [
    ("accounts", "0001_initial"),
    ("upstream", "0002_task_type_model_index"),
    ("gallery", "0002_keyset_indexes"),
    ("spend", "0002_balancereading"),
    ("studio", "0001_initial"),
    ("tools", "0001_initial"),
    ("chat", "0001_initial"),
]
NEW_APPS = ["media", "money"]
MOVED = {"gallery.Image": "media.Image", "spend.Charge": "money.Charge",
         "spend.BalanceReading": "money.BalanceReading"}
STAYED = ["accounts.Team", "accounts.User", "upstream.Task", "studio.Generation", "tools.ToolRun",
          "tools.TextResult", "chat.Conversation", "chat.Message", "admin.LogEntry", "auth.Permission"]


# ---------------------------------------------------------------------- migrating


def migrate_to_previous_layout() -> Apps:
    """Unapply everything since the previous layout; the (historical) models of that layout."""
    MigrationExecutor(connection).migrate([(app, None) for app in NEW_APPS] + PREVIOUS_LAYOUT)
    loader = MigrationExecutor(connection).loader  # a new one: it reads which migrations are applied now
    applied = [node for node in loader.applied_migrations if node in loader.graph.nodes]
    return loader.project_state(applied).apps


def migrate_to_latest() -> None:
    """What `manage.py migrate` does: every app to its newest migration."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()  # the content types changed app under the cache's feet


def schema() -> dict[str, dict[str, Any]]:
    """Every table's columns, indexes and constraints, as the database describes them."""
    introspection = connection.introspection
    with connection.cursor() as cursor:
        return {
            table: {
                "columns": [tuple(column) for column in introspection.get_table_description(cursor, table)],
                "constraints": introspection.get_constraints(cursor, table),
            }
            for table in introspection.table_names(cursor)
        }


def rows(apps: Apps, label: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    return list(apps.get_model(label).objects.order_by("pk").values(*(fields or [])))


# ---------------------------------------------------------------------- the old installation


class OldInstallation:
    """Rows written through the previous layout's models, and what to find again after the upgrade."""

    def __init__(self, apps: Apps, files: dict[str, bytes]) -> None:
        self.apps = apps
        self.files = files  # storage path → the bytes written there
        self.now = timezone.now()
        self.ids: dict[str, Any] = {}
        self.charges: list[Any] = []

    def create(self, label: str, **fields: Any) -> Any:
        return self.apps.get_model(label).objects.create(**fields)

    def member(self, username: str, **fields: Any) -> Any:
        return self.create("accounts.User", username=username, email=f"{username}@example.com",
                           password=make_password("correct horse battery"), **fields)

    def task(self, user: Any, feature: str, task_type: str, model: str, **params: Any) -> Any:
        return self.create(
            "upstream.Task", user=user, team_id=user.team_id, feature=feature, task_type=task_type,
            model=model, params={"model": model, **params}, status="done", results_received=1,
            created_at=self.now, started_at=self.now, finished_at=self.now,
        )

    def charge(self, task: Any, amount: str, result_key: str) -> None:
        """A ledger row for one result of `task`, and the task's cost as the runner keeps it."""
        charge = self.create(
            "spend.Charge", task=task, user_id=task.user_id, team_id=task.team_id, task_type=task.task_type,
            model=task.model, result_key=result_key, amount=Decimal(amount), created_at=self.now,
        )
        task.cost += charge.amount
        task.save(update_fields=["cost"])
        self.charges.append(charge)

    def image(self, user: Any, colour: tuple[int, int, int], **fields: Any) -> Any:
        """An image row with its file and thumbnail where media.store.save_image puts them
        (the historical field's upload_to is the store's own path function)."""
        data = png_bytes(48, 32, colour)
        thumbnail = encoded(decoded(data), "WEBP")
        image = self.apps.get_model("gallery.Image")(
            user=user, width=48, height=32, size_bytes=len(data), content_type="image/png",
            created_at=self.now, **fields,
        )
        image.file.save(f"{image.id}.png", ContentFile(data), save=False)
        image.thumbnail.save(f"{image.id}.webp", ContentFile(thumbnail), save=False)
        image.save()
        self.files.update({image.file.name: data, image.thumbnail.name: thumbnail})
        return image

    def content_type(self, app_label: str, model: str) -> Any:
        content_types = self.apps.get_model("contenttypes.ContentType").objects
        return content_types.get_or_create(app_label=app_label, model=model)[0]

    def admin_history(self, user: Any, app_label: str, model: str, obj: Any) -> Any:
        """What the admin wrote when staff changed `obj`, on the content type of the old app."""
        return self.create(
            "admin.LogEntry", user=user, content_type=self.content_type(app_label, model),
            object_id=str(obj.pk), object_repr=str(obj.pk), action_flag=CHANGE,
            change_message='[{"changed": {"fields": ["Favourite"]}}]',
        )

    def grant(self, user: Any, app_label: str, model: str, codename: str) -> None:
        permissions = self.apps.get_model("auth.Permission").objects
        permission, _ = permissions.get_or_create(content_type=self.content_type(app_label, model),
                                                  codename=codename, defaults={"name": codename})
        user.user_permissions.add(permission)


def fill(old: OldInstallation) -> None:
    """A month of a small team: pictures made, derived and captioned, a chat, the ledger, the admin."""
    team = old.create("accounts.Team", name="Pixels", monthly_budget=Decimal("25.0000"))
    alice = old.member("alice", team=team, monthly_budget=Decimal("5.0000"))
    bob = old.member("bob", team=team)
    mallory = old.member("mallory")
    sam = old.member("sam", is_staff=True, is_superuser=True)
    old.ids.update(team=team.pk, alice=alice.pk, bob=bob.pk, mallory=mallory.pk, sam=sam.pk)
    alice_makes_and_derives_pictures(old, alice)
    bob_captions_an_upload(old, bob)
    mallory_chats(old, mallory)
    staff_keep_the_books(old, sam)


def alice_makes_and_derives_pictures(old: OldInstallation, alice: Any) -> None:
    made = old.task(alice, "studio", "imageInference", "runware:101@1", positivePrompt="a lighthouse at dusk")
    seed = old.image(alice, (200, 80, 40), task=made, prompt="a lighthouse at dusk", model="runware:101@1",
                     seed=42, cost=Decimal("0.0038123456"), runware_uuid="6c0f2d8e-made", favourite=True)
    old.charge(made, "0.0038123456", seed.runware_uuid)

    image_to_image = old.task(alice, "studio", "imageInference", "runware:101@1",
                              positivePrompt="the same at night", seedImage=f"portal-image:{seed.pk}")
    old.create("studio.Generation", task=image_to_image, seed_image=seed, settings={"strength": 0.7})
    night = old.image(alice, (20, 20, 90), task=image_to_image, cost=Decimal("0.0123456789"))
    old.charge(image_to_image, "0.0123456789", "night")

    upscale = old.task(alice, "tools", "imageUpscale", "runware:504@1", inputImage=f"portal-image:{seed.pk}")
    old.create("tools.ToolRun", task=upscale, user=alice, tool="upscale", source=seed)
    upscaled = old.image(alice, (210, 90, 50), task=upscale, source=seed, kind="upscaled",
                         cost=Decimal("0.0020000001"))
    old.charge(upscale, "0.0020000001", "upscaled")

    trashed = old.image(alice, (90, 90, 90), deleted_at=old.now, shared_with_team=True)
    old.ids.update(seed=seed.pk, image_to_image=image_to_image.pk, night=night.pk, upscaled=upscaled.pk,
                   trashed=trashed.pk)


def bob_captions_an_upload(old: OldInstallation, bob: Any) -> None:
    uploaded = old.image(bob, (30, 160, 60), kind="uploaded", original_name="harbour.png",
                         shared_with_team=True)
    caption = old.task(bob, "tools", "caption", "runware:150@2", inputImage=f"portal-image:{uploaded.pk}")
    old.create("tools.ToolRun", task=caption, user=bob, tool="caption", source=uploaded)
    old.create("tools.TextResult", task=caption, user=bob, source=uploaded, index=0,
               text="A harbour at noon.", cost=Decimal("0.0001234567"))
    old.charge(caption, "0.0001234567", "0")
    old.ids.update(uploaded=uploaded.pk, caption=caption.pk)


def mallory_chats(old: OldInstallation, mallory: Any) -> None:
    """Mallory is in no team: her spend shows on the staff page's "no team" line."""
    chat = old.task(mallory, "chat", "textInference", "google:gemma@4-31b", messages=[])
    conversation = old.create("chat.Conversation", user=mallory, title="Haiku")
    old.create("chat.Message", conversation=conversation, role="user", content="A haiku, please.")
    old.create("chat.Message", conversation=conversation, role="assistant", task=chat, content="Old pond…",
               cost=Decimal("1.2500000009"), usage={"totalTokens": 42}, total_tokens=42)
    old.charge(chat, "1.2500000009", "0")
    old.ids["chat"] = chat.pk


def staff_keep_the_books(old: OldInstallation, sam: Any) -> None:
    """A balance reading, admin history on an image and on a charge, and a permission on images."""
    old.create("spend.BalanceReading", balance=Decimal("98.7654321098"), last_charge_id=old.charges[-1].pk,
               is_starting_point=True, taken_by=sam)
    seed = old.apps.get_model("gallery.Image").objects.get(pk=old.ids["seed"])
    old.ids["image_history"] = old.admin_history(sam, "gallery", "image", seed).pk
    old.ids["charge_history"] = old.admin_history(sam, "spend", "charge", old.charges[0]).pk
    old.grant(old.apps.get_model("accounts.User").objects.get(pk=old.ids["bob"]), "gallery", "image",
              "change_image")


# ---------------------------------------------------------------------- the test


@pytest.fixture
def stored_files() -> Iterator[dict[str, bytes]]:
    """Files the test writes to storage, deleted at the end (the flush only empties tables)."""
    files: dict[str, bytes] = {}
    yield files
    for name in files:
        default_storage.delete(name)


@pytest.mark.django_db(transaction=True)
def test_an_installation_of_the_previous_layout_upgrades_with_migrate_and_loses_nothing(client, stored_files):
    fresh_install = schema()
    try:
        old = OldInstallation(migrate_to_previous_layout(), stored_files)
        fill(old)
        before = {label: rows(old.apps, label) for label in [*MOVED, *STAYED]}
        migrate_to_latest()
    finally:
        migrate_to_latest()  # whatever happened, the next tests find the database they expect

    assert schema() == fresh_install  # the tables, columns, indexes and constraints of a new installation
    for label, old_rows in before.items():
        assert rows(current_apps, MOVED.get(label, label), list(old_rows[0])) == old_rows, label
    check_files(client, old)
    check_links(old)
    check_content_types(old)
    check_spend_pages(client, old)
    check_ledger_keeps_counting(old)


def check_files(client: Any, old: OldInstallation) -> None:
    """Every file opens at the path its row names, and the member still downloads their picture."""
    for image in Image.objects.all():
        for stored in (image.file, image.thumbnail):
            with stored.open("rb") as handle:
                assert handle.read() == old.files[stored.name]
    assert len(old.files) == 2 * Image.objects.count()

    seed = Image.objects.get(pk=old.ids["seed"])
    client.force_login(seed.user)
    response = client.get(reverse("gallery:file", args=[seed.pk]))
    assert b"".join(response.streaming_content) == old.files[seed.file.name]


def check_links(old: OldInstallation) -> None:
    """Pictures, their tasks, charges, generations, tool runs and captions still find each other."""
    seed = Image.objects.get(pk=old.ids["seed"])
    assert seed.task.charges.get().amount == Decimal("0.0038123456") == seed.cost
    generation = Generation.objects.get(pk=old.ids["image_to_image"])
    assert generation.seed_image == seed
    assert generation.task.images.get().pk == old.ids["night"]
    upscaled = seed.derived.get()
    assert (upscaled.pk, upscaled.task.tool_run.source) == (old.ids["upscaled"], seed)
    assert list(seed.tool_runs.values_list("tool", flat=True)) == ["upscale"]
    caption = TextResult.objects.get(task_id=old.ids["caption"])
    assert caption.source.pk == old.ids["uploaded"]
    assert caption.task.charges.get().amount == caption.cost
    reply = Message.objects.get(task_id=old.ids["chat"])
    assert reply.task.charges.get().amount == reply.cost == Decimal("1.2500000009")
    reading = BalanceReading.objects.get()
    assert (reading.balance, reading.taken_by.username) == (Decimal("98.7654321098"), "sam")
    assert Image.objects.trashed().get().pk == old.ids["trashed"]
    with transaction.atomic():
        connection.check_constraints()  # no foreign key points at a row that is not there


def check_content_types(old: OldInstallation) -> None:
    """Admin history and permissions follow the models to their new apps; nothing stays on the old ones."""
    image_history = LogEntry.objects.get(pk=old.ids["image_history"])
    assert image_history.content_type == ContentType.objects.get_for_model(Image)
    assert image_history.get_edited_object() == Image.objects.get(pk=old.ids["seed"])
    charge_history = LogEntry.objects.get(pk=old.ids["charge_history"])
    assert charge_history.get_edited_object() == Charge.objects.get(pk=old.charges[0].pk)
    assert User.objects.get(pk=old.ids["bob"]).has_perm("media.change_image")
    stale = ContentType.objects.filter(app_label__in=["gallery", "spend"],
                                       model__in=["image", "charge", "balancereading"])
    assert not stale.exists()


def spent(old: OldInstallation, **match: Any) -> Decimal:
    """The exact sum of the charges written before the upgrade that match (user_id=…, team_id=…)."""
    charges = [charge for charge in old.charges if all(getattr(charge, k) == v for k, v in match.items())]
    return sum((charge.amount for charge in charges), Decimal(0))


def table_row(page: str, row_id: str) -> str:
    row = page[page.index(f'id="{row_id}"'):]
    return row[:row.index("</tr>")]


def check_spend_pages(client: Any, old: OldInstallation) -> None:
    """Staff and members read the same totals, to the last digit, as the sums of the old charges."""
    client.force_login(User.objects.get(pk=old.ids["sam"]))
    page = client.get("/spend/").content.decode()
    assert usd(spent(old)) == "$1.2682814822"  # every digit of the five amounts
    assert f"data-total>{usd(spent(old))}</div>" in page
    for member in ("alice", "bob", "mallory"):
        row = table_row(page, f"member-{old.ids[member]}")
        count = sum(1 for charge in old.charges if charge.user_id == old.ids[member])
        assert f"{usd(spent(old, user_id=old.ids[member]))}<div" in row and f"{count} charge" in row
    assert usd(spent(old, team_id=old.ids["team"])) in table_row(page, f"team-{old.ids['team']}")
    assert usd(spent(old, team_id=None)) in table_row(page, "team-none")

    client.force_login(User.objects.get(pk=old.ids["alice"]))
    page = client.get("/account/usage/").content.decode()
    alice_spent = spent(old, user_id=old.ids["alice"])
    assert f"data-total>{usd(alice_spent)}</div>" in page
    assert f"data-remaining>{usd(Decimal(5) - alice_spent)} left</div>" in page
    assert f"data-team-remaining>{usd(Decimal(25) - spent(old, team_id=old.ids['team']))} left</div>" in page


def check_ledger_keeps_counting(old: OldInstallation) -> None:
    """A charge made after the upgrade takes the next number, and a result is still charged only once."""
    first = Charge.objects.get(pk=old.charges[0].pk)
    later = Charge.objects.create(task=first.task, user=first.user, team=first.team,
                                  task_type=first.task_type, result_key="after-the-upgrade",
                                  amount=Decimal("0.0000000001"))
    assert later.pk > max(charge.pk for charge in old.charges)
    with pytest.raises(IntegrityError), transaction.atomic():
        Charge.objects.create(task=first.task, user=first.user, task_type=first.task_type,
                              result_key=first.result_key, amount=Decimal("1"))
