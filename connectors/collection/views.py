"""Run history and live progress of tasks.

Pages poll a run's progress with htmx while it is queued or running; the answer for a run
that has ended is its final state with status 286, which stops the polling.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling, trigger_client_event

from connectors.access import redirect_to, require_staff, task_for
from connectors.collection import queue
from connectors.collection.reads import described, run_list, task_tree, upcoming_runs
from connectors.models import RunStatus, Task, TaskRun

TASK_PAGE_RUNS = 20
TASKS_PAGE_RUNS = 25
HISTORY_PAGE_SIZE = 50


def history_context(task: Task, now: datetime) -> dict:
    """What the task page shows of the task's runs: the latest ones, active ones first."""
    recent = described(task.runs.all()[:TASK_PAGE_RUNS], now)
    return {
        "recent_runs": recent,
        "active_runs": [run for run in recent if run.is_active],
        "run_count": task.runs.count(),
    }


def task_list(request: HttpRequest) -> HttpResponse:
    # Viewing needs only a login, which LoginRequiredMiddleware has checked.
    now = timezone.now()
    context = _tasks_live_context(now)
    if request.htmx and request.htmx.target == "tasks-live":
        response = render(request, "connectors/task_list.html#tasks-live", context)
        if context["active"]:
            return response
        return HttpResponseStopPolling(response.content)  # the final state; polling stops
    context["upcoming"] = upcoming_runs(now)
    return render(request, "connectors/task_list.html", context)


def _tasks_live_context(now: datetime) -> dict:
    """The Tasks page's tasks with their last runs and its history, and whether any of
    those runs is queued or running (the page then polls them)."""
    connectors, runs = task_tree(now), described(run_list()[:TASKS_PAGE_RUNS], now)
    last_runs = [task.last_run for c in connectors for task in c.tasks.all() if task.last_run]
    return {
        "connectors": connectors,
        "runs": runs,
        "runs_shown": TASKS_PAGE_RUNS,
        "active": any(run.is_active for run in (*last_runs, *runs)),
    }


def task_runs(request: HttpRequest, pk: int) -> HttpResponse:
    task = task_for(request, pk)
    if request.htmx and request.htmx.target == "task-history":
        return _history(request, task)
    page = Paginator(task.runs.all(), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "task": task,
        "connector": task.connector,
        "page": page,
        "runs": described(page, timezone.now()),
    }
    return render(request, "connectors/task_runs.html", context)


def _history(request: HttpRequest, task: Task) -> HttpResponse:
    """The task page's history section, polled while a run of the task is active: the
    progress bar and the history rows come from one answer, so they always agree. The
    first answer without an active run fires run-finished (the "Run queued" banner
    goes) and, having no polling attribute, stops the polling."""
    context = {"task": task, **history_context(task, timezone.now())}
    response = render(request, "connectors/_task_history.html", context)
    if context["active_runs"]:
        return response
    last = context["recent_runs"][0] if context["recent_runs"] else None
    return trigger_client_event(response, "run-finished", _outcome(last))


def _outcome(run: TaskRun | None) -> dict:
    """What the page's "Run queued" banner turns into once the run has ended."""
    if run is None:
        return {}
    text = f"Run {run.number} of “{run.task.display_name}”: {run.get_status_display()}."
    if run.status == RunStatus.SUCCEEDED:
        text = f"Run {run.number} of “{run.task.display_name}” succeeded."
    return {"outcome": text, "status": run.status}


def _run_for(request: HttpRequest, pk: int, manage: bool = False) -> TaskRun:
    if manage:
        require_staff(request)
    return get_object_or_404(TaskRun.objects.select_related("task__connector"), pk=pk)


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    if request.htmx and request.htmx.target == "run-live":
        return _live(request, run, "connectors/run_detail.html#run-live")
    return render(request, "connectors/run_detail.html", _run_context(run))


def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress block other pages embed and poll, e.g. the task page's history."""
    run = _run_for(request, pk)
    return _live(request, run, "connectors/_run_progress.html")


def _run_context(run: TaskRun) -> dict:
    (run,) = described([run], timezone.now())
    return {"run": run, "task": run.task, "connector": run.task.connector, "poll": True}


def _live(request: HttpRequest, run: TaskRun, template: str) -> HttpResponse:
    response = render(request, template, _run_context(run))
    if run.is_active:
        return response
    # The final state, without polling attributes; 286 also stops the current poll.
    stopped = HttpResponseStopPolling(response.content)
    return trigger_client_event(stopped, "run-finished", _outcome(run))


@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk, manage=True)
    queue.run_cancel(run)
    run.refresh_from_db()
    if run.status == RunStatus.CANCELLED:
        messages.success(request, "Cancelled before it started.")
    elif run.cancel_requested:
        messages.success(request, "Cancel requested: the run stops within seconds.")
    else:
        messages.warning(request, f"Nothing to cancel: the run has {run.status}.")
    return redirect_to(request, "connectors:run-detail", run.pk)
