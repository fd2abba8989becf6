"""Run history and live progress of tasks."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from connectors import runs
from connectors.access import redirect_to, require_staff
from connectors.models import Task, TaskRun


def history_context(task: Task, now: datetime) -> dict:
    """What the task page shows of the task's runs."""
    return {"recent_runs": task.runs.all()[:10]}


@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    require_staff(request)
    run = get_object_or_404(TaskRun, pk=pk)
    runs.run_cancel(run)
    messages.success(request, "Cancelled: a running run stops after its current page.")
    return redirect_to(request, "connectors:task-detail", run.task_id)
