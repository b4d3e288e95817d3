"""A member's recently used image models, newest first (from their own Task rows only)."""

from __future__ import annotations

from django.db.models import Max

from runware_web.accounts.models import User
from runware_web.upstream.models import Task

RECENT_LIMIT = 5


def recent_models(user: User, limit: int = RECENT_LIMIT) -> list[str]:
    """AIRs of the models this member generated images with, the most recently used first."""
    rows = (
        Task.objects.for_user(user)
        .filter(task_type="imageInference")
        .exclude(model="")
        .values("model")
        .annotate(last_used=Max("created_at"))
        .order_by("-last_used", "model")[:limit]
    )
    return [row["model"] for row in rows]
