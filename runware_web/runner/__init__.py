"""The task runner: the one door through which every Runware task passes.

A consumer (or view) calls `runner.submit(...)`; the runner admits the task against the member's
budget, writes the Task row *before* anything is sent, and runs the upstream call as an
independent asyncio task of the process (never a consumer's child, so closing the tab cancels
nothing). Each result's cost goes to the ledger first, then to the feature's `Handler` for
persistence, and the HTML the handler returns is published to the member's group, so every open
tab of that member (on any worker) sees it.

The modules, in the order a task meets them:

- service.py   `runner`, the process-wide object: submit, start, wait, cancel, recover_orphans,
               ensure_started, shutdown; each leads to one of the modules below
- submit.py    submit (admission, the row, the feature's before_start, start), wait, cancel
- quick.py     the one-message admission from the event loop (PostgreSQL), tried first where it can be
- admit.py     the admission write: budgets checked and Task rows written, in one group commit
- batching.py  the group commit: the runner's small writes, coalesced into one transaction
- state.py     the runner's state per event loop (its tasks, writes, database thread) and per task
- execute.py   running sync and async tasks through the SDK, and the pump that hands on results
- stream.py    streamed text (textInference over SSE), published as it grows
- recover.py   getResponse recovery of a task whose connection dropped or whose worker died
- deliver.py   a task's outcomes: ledger first, then the feature's handler, then publish; task ends
- waiting.py   results kept while the disk where images go is full, stored by any worker once there is room
- outcomes.py  reading Runware's items: result keys, costs, item errors; guarding handler calls
- handlers.py  the Handler base class and the feature table (settings.RUNWARE_WEB_TASK_HANDLERS)
- publish.py   HTML to a member's tabs (their group), ledger changes to the staff spend page
- workers.py   this worker's row and heartbeat, the upstream watch, adopting dead workers' tasks
- shutdown.py  stopping: grace for running tasks, flushing writes, the Twisted reactor's hook
- detached.py  `detached`, for async views that start tasks outside the request's context

The runware-sdk client itself is upstream's (runware_web.upstream.client): one per process and
event loop.
"""

from __future__ import annotations

from runware_web.runner.detached import detached
from runware_web.runner.handlers import Handler
from runware_web.runner.outcomes import parse_cost
from runware_web.runner.publish import publish
from runware_web.runner.quick import Quick
from runware_web.runner.service import Runner, runner

__all__ = ["Handler", "Quick", "Runner", "detached", "parse_cost", "publish", "runner"]
