"""The hand-written statements (lib.sql) write and read rows exactly as the ORM does."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from runware_web.endpoint.keys import create_key
from runware_web.endpoint.models import ApiKey, EndpointCall
from runware_web.lib import sql
from runware_web.money.models import Charge
from runware_web.upstream.models import Task

pytestmark = pytest.mark.django_db


def _task(user, **fields) -> Task:
    return Task(user=user, team=user.team, feature="endpoint", task_type="imageInference", model="runware:101@1",
                params={"positivePrompt": "a “quoted” lighthouse", "steps": 4}, estimated_cost=Decimal("0.0026"),
                status=Task.Status.RUNNING, started_at=timezone.now(), **fields)


def test_inserted_rows_read_back_as_the_orm_wrote_them(user):
    tasks = [_task(user, number_results=n) for n in (1, 2, 3)]
    sql.insert(tasks)

    for task in tasks:
        stored = Task.objects.get(pk=task.pk)
        assert (stored.user, stored.team, stored.params, stored.estimated_cost, stored.number_results, stored.status) == (
            user, user.team, task.params, Decimal("0.0026"), task.number_results, Task.Status.RUNNING)
        assert stored.created_at == task.created_at and stored.started_at == task.started_at
        assert not task._state.adding  # saved: a later save() updates the row instead of inserting another


def test_an_inserted_row_is_one_its_relations_and_constraints_hold_for(user):
    task = _task(user)
    sql.insert([task])
    key, _ = create_key(user, name="script")
    call = EndpointCall(task=task, user=user, key=key, key_name=key.name, client_task_uuid=uuid.uuid4())
    sql.insert([call])
    assert EndpointCall.objects.get(task=task).key == key
    Charge.objects.create(task=task, user=user, amount=Decimal("0.0013"), result_key="a")
    assert task.charges.count() == 1

    again = EndpointCall(task=_task(user), user=user, key=key, key_name=key.name, client_task_uuid=call.client_task_uuid)
    sql.insert([again.task])
    with pytest.raises(Exception, match="(?i)unique"), transaction.atomic():  # the same taskUUID twice
        sql.insert([again])


def test_many_rows_go_in_as_many_statements_as_the_databases_parameter_limit_needs(user):
    tasks = [_task(user) for _ in range(1500)]  # 1500 × 24 columns: over SQLite's old limit of 999 parameters
    sql.insert(tasks)
    assert Task.objects.filter(user=user).count() == 1500


def test_a_model_numbering_its_own_rows_is_refused(user):
    task = _task(user)
    sql.insert([task])
    with pytest.raises(TypeError, match="numbers its own rows"):
        sql.insert([Charge(task=task, user=user, amount=Decimal(1), result_key="a")])


def test_a_usable_key_is_read_with_every_field_converted(user):
    key, _ = create_key(user, name="nightly", budget=Decimal("2.50"), task_types=["imageInference"],
                        models=["runware:101@1"], expires_at=timezone.now() + timedelta(days=3))
    with transaction.atomic():
        locked = ApiKey.objects.send_usable(key.pk)()
    expected = ApiKey.objects.get(pk=key.pk)
    for field in ApiKey._meta.concrete_fields:
        assert getattr(locked, field.attname) == getattr(expected, field.attname), field.name
    assert isinstance(locked.budget, Decimal) and isinstance(locked.pk, uuid.UUID)
    assert locked.allowed_models == ["runware:101@1"]


def test_a_revoked_or_expired_key_is_not_read(user):
    revoked, _ = create_key(user, name="revoked")
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    expired, _ = create_key(user, name="expired", expires_at=timezone.now() - timedelta(seconds=1))
    with transaction.atomic():
        assert ApiKey.objects.send_usable(revoked.pk)() is None
        assert ApiKey.objects.send_usable(expired.pk)() is None


# In a pipelined transaction (on PostgreSQL, its statements sent together: see sql.pipelined_transaction),
# committed for real, as the runner's admissions are.

HOSTILE = "it's 100% “quoted”; DROP TABLE upstream_task; -- %s %(name)s \\ end"


@pytest.mark.django_db(transaction=True)
def test_in_a_pipelined_transaction_rows_written_by_hand_are_there_for_the_next_statement_and_kept(user):
    key, _ = create_key(user, name="script")
    with sql.pipelined_transaction():
        read = ApiKey.objects.send_usable(key.pk)  # sent with what follows, read later
        task = _task(user)
        task.params = {"positivePrompt": HOSTILE, "steps": 4}
        sql.insert([task])
        call = EndpointCall(task=task, user=user, key=key, key_name=HOSTILE, client_task_uuid=uuid.uuid4())
        sql.insert([call])
        assert Task.objects.filter(user=user).count() == 1  # the ORM's statement sent them first, in order
        assert read().name == "script"

    stored = EndpointCall.objects.select_related("task").get(task=task)
    assert stored.key_name == HOSTILE and stored.task.params["positivePrompt"] == HOSTILE  # values quoted, not run
    assert stored.created_at == call.created_at


@pytest.mark.django_db(transaction=True)
def test_a_pipelined_transaction_whose_insert_fails_keeps_none_of_its_rows_and_the_connection_goes_on(user):
    key, _ = create_key(user, name="script")
    used = uuid.uuid4()
    first = _task(user)
    sql.insert([first])
    sql.insert([EndpointCall(task=first, user=user, key=key, key_name="script", client_task_uuid=used)])

    second = _task(user)
    with pytest.raises(IntegrityError), sql.pipelined_transaction():
        sql.insert([second])
        sql.insert([EndpointCall(task=second, user=user, key=key, key_name="script", client_task_uuid=used)])

    assert not Task.objects.filter(pk=second.pk).exists()
    with sql.pipelined_transaction():
        sql.insert([second])
    assert Task.objects.filter(user=user).count() == 2
