"""History's filters: they live in the URL, so a filtered history can be bookmarked."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from runware_web.lib import kinds
from runware_web.upstream.models import Task


class HistoryFilterForm(forms.Form):
    """`taskType` is Runware's own name for what a task did; each kind is offered once, under its
    current name, and finds the tasks stored under its legacy names too."""

    taskType = forms.ChoiceField(label="Kind", required=False, choices=[("", "Any kind"), *kinds.LABELS.items()])
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *Task.Status.choices])

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid one is shown with its error and left out)."""
        return {name: value for name, value in self.cleaned_data.items() if value}


def apply_task_filters(tasks: QuerySet[Task], filters: dict[str, Any]) -> QuerySet[Task]:
    if task_type := filters.get("taskType"):
        tasks = tasks.filter(task_type__in=kinds.aliases(task_type))
    if status := filters.get("status"):
        tasks = tasks.filter(status=status)
    return tasks
