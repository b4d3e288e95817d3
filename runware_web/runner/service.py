"""`runner`: the process-wide object through which features start, follow and stop tasks.

Its methods are the runner's entry points; each is a few lines that lead to the module doing the
work (submit.py, execute.py, workers.py, shutdown.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from runware_web.accounts.models import User
from runware_web.money import alerts
from runware_web.runner import execute, shutdown, state, submit, workers
from runware_web.runner.quick import Quick
from runware_web.upstream.models import Task
from runware_web.upstream.models_catalogue import ModelDefaults


class Runner:
    worker_id = workers.WORKER_ID  # this process, as Task rows and the Worker table name it

    async def ensure_started(self) -> None:
        """Register this worker, start its heartbeat, recover what dead workers left and send the
        budget alerts that are due."""
        loop_state = state.current()
        if loop_state.started:
            return
        loop_state.started = True
        await workers.start()
        state.spawn(alerts.deliver_forever())  # budget alerts' emails and webhook posts, off the tasks' path
        shutdown.install_hook(self.shutdown)

    def start_with_server(self) -> None:
        """Start as soon as Daphne serves (called once, by runware_web.asgi)."""
        shutdown.start_with_reactor(self.ensure_started)

    async def submit(
        self,
        *,
        user: User,
        feature: str,
        task_type: str,
        params: dict[str, Any],
        number_results: int = 1,
        estimated_cost: Decimal | None = None,
        delivery: str = "sync",
        before_start: Callable[[Task], Awaitable[Any]] | None = None,
        record_with: Callable[[Task], None] | None = None,
        read_ahead: Callable[[], None] | None = None,
        quick: Quick | None = None,
        model_defaults: ModelDefaults | None = None,
    ) -> Task:
        """Admit, record and start a task. Raises `Refused` when the budget or rate limit says no.

        `before_start(task)` is awaited once the task is recorded and before it is sent: a feature
        records its own rows for the task there (and shows it to the member), so that its first
        result, which may come back at once, finds them. Should it raise, the task ends unsent.
        `record_with(task)` does the same in the database thread, inside the admission's own
        transaction, once the task's row is written (no trip of its own, for features that start
        many tasks); should it raise (Refused, say), neither its rows nor the task's are kept, and
        submit raises it. `read_ahead()`, in the same transaction once the member's lock is sent,
        sends the reads `record_with` will need (lib.sql.send_read), so that they cost no round trip
        of their own and see what the lock's last holder committed. `quick` (a `runner.Quick`): the
        same checks and rows as SQL, for the admission in one message from the event loop, tried
        first on PostgreSQL (quick.py); a task it does not admit is weighed as above.

        `params` are Runware's own parameters; the runner adds taskType, taskUUID, includeCost
        and deliveryMethod. `delivery` is "sync" (results pushed as they are ready), "async"
        (acknowledged, then polled; for long tasks such as video) or "stream" (textInference
        over SSE). `estimated_cost` is what admission reserves of the budgets while the task runs;
        without one, money's price estimate is used, with the model's defaults (`model_defaults`
        when the caller has looked them up already, else looked up here).
        """
        await self.ensure_started()
        return await submit.submit(
            user=user, feature=feature, task_type=task_type, params=params, number_results=number_results,
            estimated_cost=estimated_cost, delivery=delivery, before_start=before_start, record_with=record_with,
            read_ahead=read_ahead, quick=quick, model_defaults=model_defaults,
        )

    def start(self, task: Task) -> None:
        """Run a task already admitted (and claimed by this worker) in the background of this process."""
        execute.start(task)

    def hurry(self, task_id: Any) -> None:
        """Someone waits for what a task running in this process stores (a script fetching its
        result's file): its results' book-keeping starts at once, not after a moment."""
        execute.hurry(task_id)

    async def wait(self, task_id: Any) -> None:
        """Wait until a task started in this process has ended (for tests and benchmarks)."""
        await submit.wait(task_id)

    async def cancel(self, *, user: User, task_id: Any) -> Task | None:
        """Mark a member's active task cancelled. Runware still bills it, so whatever arrives later
        is still saved and charged. Returns None when there is no such active task of theirs."""
        return await submit.cancel(user=user, task_id=task_id)

    async def recover_orphans(self) -> int:
        """Adopt the tasks of dead workers and recover them; how many were adopted."""
        return await workers.recover_orphans()

    async def shutdown(self, grace: float | None = None) -> None:
        """Wait briefly for running tasks, then stop; what is still running stays recoverable."""
        await shutdown.shutdown(grace)


runner = Runner()
