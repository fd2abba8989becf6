"""Function views. Each checks access in its first line: staff manage, others view."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from connectors.access import connector_for, posted, redirect_to, require_staff, task_for
from connectors.collection import queue, schedule
from connectors.collection import views as views_runs
from connectors.explore.params import positive_int
from connectors.models import Connector, RunTrigger, Task
from connectors.openai.plan import params_for
from connectors.openai.streams import QUERY_TYPES, UsageStream, streams_for
from connectors.setup import selectors, services
from connectors.setup.catalogue import CATALOGUE, categories
from connectors.setup.connector_form import ConnectorForm
from connectors.setup.estimate import RunEstimate, run_estimate
from connectors.setup.pickers import task_pickers
from connectors.setup.schedule_form import ScheduleForm
from connectors.setup.task_form import TaskForm, named_params, task_initial


def home(request: HttpRequest) -> HttpResponse:
    return redirect("connectors:connector-list")


def connector_list(request: HttpRequest) -> HttpResponse:
    connectors = selectors.connector_list()
    return render(request, "connectors/connector_list.html", {"connectors": connectors})


def connector_catalogue(request: HttpRequest) -> HttpResponse:
    require_staff(request)
    query, category = request.GET.get("q", "")[:100], request.GET.get("category", "All")
    context = {
        "tiles": selectors.catalogue_search(query, category),
        "categories": categories(),
        "category": category,
        "q": query,
    }
    template = "connectors/connector_catalogue.html"
    if request.htmx and request.htmx.target == "tiles":
        template += "#tiles"
    return render(request, template, context)


@sensitive_variables()  # the form, and every frame below that holds the typed key
@sensitive_post_parameters("admin_key")
def connector_add(request: HttpRequest, kind: str) -> HttpResponse:
    require_staff(request)
    if kind not in CATALOGUE:
        raise Http404("No such connector type.")
    form = ConnectorForm(posted(request))
    if request.method == "POST" and form.is_valid():
        connector, error = services.connector_create(kind=kind, **form.cleaned_data)
        if connector:
            messages.success(request, f"Connector “{connector.name}” saved: key verified.")
            return redirect_to(request, "connectors:connector-detail", connector.pk)
        form.add_error("admin_key", error)
    context = {"form": form, "entry": CATALOGUE[kind], "action": "add"}
    return _render_form(request, "connectors/connector_form.html", "connector-form", context)


@sensitive_variables()
@sensitive_post_parameters("admin_key")
def connector_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk, manage=True)
    fields = ("name", "description", "base_url", "requests_per_minute")
    initial = {f: getattr(connector, f) for f in fields}
    form = ConnectorForm(posted(request), initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        error = services.connector_update(connector, **form.cleaned_data)
        if not error:
            messages.success(request, f"Connector “{connector.name}” saved.")
            return redirect_to(request, "connectors:connector-detail", connector.pk)
        form.add_error("admin_key", error)
    context = {"form": form, "entry": connector.catalogue_entry, "connector": connector}
    return _render_form(request, "connectors/connector_form.html", "connector-form", context)


def _render_form(request: HttpRequest, template: str, partial: str, context: dict):
    # htmx 2 does not swap 4xx answers: an invalid form comes back with 200.
    if request.htmx:
        template = f"{template}#{partial}"
    return render(request, template, context)


def connector_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk)
    tasks = connector.tasks.all()
    return render(
        request, "connectors/connector_detail.html", {"connector": connector, "tasks": tasks}
    )


@require_POST
def connector_test(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk, manage=True)
    error = services.connector_test(connector)
    if request.htmx:
        return render(
            request, "connectors/connector_detail.html#key-status", {"connector": connector}
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "The key works: verified just now.")
    return redirect("connectors:connector-detail", connector.pk)


def connector_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk, manage=True)
    if request.method == "POST":
        name = connector.name
        services.connector_delete(connector)
        messages.success(request, f"Connector “{name}” and its tasks were deleted.")
        return redirect_to(request, "connectors:connector-list")
    return render(
        request,
        "connectors/connector_confirm_delete.html",
        {"connector": connector, "tasks": connector.tasks.all()},
    )


def task_add(request: HttpRequest, connector_pk: int) -> HttpResponse:
    connector = connector_for(request, connector_pk, manage=True)
    return _task_form(request, connector, Task(connector=connector), initial={})


def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    task = task_for(request, pk, manage=True)
    return _task_form(request, task.connector, task, initial=task_initial(task))


def _task_form(request: HttpRequest, connector: Connector, task: Task, initial: dict):
    source = request.POST if request.method == "POST" else request.GET
    query_type = source.get("type") or initial.get("type", "")
    if request.method == "GET" and "type" in request.GET:
        initial = {**initial, "type": query_type}
    form = _bound_task_form(request, connector, task, initial, query_type)
    schedule_form = ScheduleForm(posted(request), instance=task)
    if request.method == "POST" and form.is_valid() & schedule_form.is_valid():
        forgotten = services.task_save(
            task,
            name=form.cleaned_data["name"],
            query_type=form.query_type,
            parameters=form.parameters(),
            schedule={
                **{f: schedule_form.cleaned_data[f] for f in ScheduleForm.Meta.fields},
                "schedule_error": "",  # a schedule that passed the form computes
            },
        )
        messages.success(request, f"Task “{task.display_name}” saved.")
        if forgotten:
            messages.warning(
                request,
                f"GROUP BY or filters changed for {', '.join(forgotten)}: the rows collected "
                "before were removed, so they are never added to rows of the new grouping. "
                "The next run collects them again.",
            )
        return redirect_to(request, "connectors:task-detail", task.pk)
    if task.pk and not form.is_bound and form.query_type == task.query_type:
        form.estimate = _saved_estimate(task)  # shown without JavaScript too
    context = {
        **_task_form_context(connector, task, form),
        "schedule_form": schedule_form,
        "errors": form.error_summary(schedule_form),
        "pickers": task_pickers(connector),
    }
    template = "connectors/task_form.html"
    if request.htmx and request.method == "GET":
        return render(request, f"{template}#task-params", context)
    return _render_form(request, template, "task-form", context)


def _bound_task_form(request, connector: Connector, task: Task, initial: dict, query_type: str):
    saved = task.parameters if task.pk else None
    rate = connector.requests_per_minute
    return TaskForm(posted(request), initial=initial, query_type=query_type, rate=rate, saved=saved)


def _saved_estimate(task: Task) -> RunEstimate:
    """The request estimate of the saved parameters, for the edit page's first view."""
    parameters = {**task.parameters, "type": task.query_type}
    return run_estimate(parameters, task.connector.requests_per_minute, timezone.now())


def _task_form_context(connector: Connector, task: Task, form: TaskForm) -> dict:
    estimate_url = reverse("connectors:task-estimate", args=[connector.pk])
    if task.pk:
        estimate_url += f"?task={task.pk}"
    return {
        "form": form,
        "connector": connector,
        "task": task,
        "task_form": True,  # _field.html: technical names behind the toggle
        "estimate_url": estimate_url,
    }


@require_POST
def task_estimate(request: HttpRequest, connector_pk: int) -> HttpResponse:
    """The request estimate of the parameters being typed, as a fragment of the form."""
    connector = connector_for(request, connector_pk, manage=True)
    task = Task(connector=connector)
    wanted = positive_int(request.GET.get("task", ""))  # "²" is a digit, not a number
    if wanted is not None:
        task = task_for(request, wanted, manage=True)
        if task.connector_id != connector.pk:
            raise Http404("No such task on this connector.")
    form = _bound_task_form(request, connector, task, {}, request.POST.get("type", ""))
    form.is_valid()
    context = _task_form_context(connector, task, form)
    return render(request, "connectors/task_form.html#task-estimate", context)


def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = task_for(request, pk)
    now = timezone.now()
    estimates, total = selectors.task_estimates(task, now)
    forecast = schedule.forecast(task, now)
    context = {
        "task": task,
        "connector": task.connector,
        "parameter_rows": [
            (_label(name), name, _shown(value)) for name, value in _in_form_order(task).items()
        ],
        "estimates": estimates,
        "total_requests": total,
        "tables": [s.table for s in streams_for(task.query_type) if isinstance(s, UsageStream)],
        "schedule_text": schedule.describe(task),
        "upcoming": forecast.times,
        "schedule_problem": forecast.problem,
        **views_runs.history_context(task, now),
    }
    template = "connectors/task_detail.html"
    if request.htmx and request.htmx.target == "task-history":
        template += "#task-history"  # a run ended: only its history is re-rendered
    return render(request, template, context)


def _in_form_order(task: Task) -> dict:
    """The stored parameters in the order the form shows them (Postgres' jsonb keeps keys
    in an order of its own)."""
    ordered = {"type": task.parameters.get("type", task.query_type)}
    ordered |= {name: task.parameters.get(name) for name, _ in named_params(task.query_type)}
    return ordered | task.parameters


def _label(technical_name: str) -> str:
    if technical_name == "type":
        return "QUERY TYPE"
    prefix, _, suffix = technical_name.partition("-")
    if prefix not in QUERY_TYPES:
        return suffix
    labels = {p.suffix: p.label for p in params_for(prefix)}
    return labels.get(suffix, suffix)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(value)
    return "" if value is None else str(value)


@require_POST
def task_run(request: HttpRequest, pk: int) -> HttpResponse:
    task = task_for(request, pk, manage=True)
    run, said = queue.run_enqueue(task, RunTrigger.MANUAL)
    if run and not said:
        messages.success(request, f"Run queued for “{task.display_name}”.")
    else:
        messages.warning(request, said)
    return redirect_to(request, "connectors:task-detail", task.pk)


@require_POST
def connector_run_all(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk, manage=True)
    outcomes = [queue.run_enqueue(task, RunTrigger.MANUAL) for task in connector.tasks.all()]
    queued = sum(1 for run, _ in outcomes if run)
    skipped = len(outcomes) - queued
    text = f"Queued {queued} run{'s' if queued != 1 else ''}."
    if skipped:
        text += f" {skipped} task{'s' if skipped != 1 else ''} already had a run going."
    late = [said for run, said in outcomes if run and said]
    if late:
        text += f" {late[0]}"
    (messages.warning if late else messages.success)(request, text)
    return redirect_to(request, "connectors:connector-detail", connector.pk)


def task_parameters(request: HttpRequest, pk: int) -> JsonResponse:
    task = task_for(request, pk)
    response = JsonResponse(_in_form_order(task), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="task-{task.pk}-parameters.json"'
    return response


def task_delete(request: HttpRequest, pk: int) -> HttpResponse:
    task = task_for(request, pk, manage=True)
    if request.method == "POST":
        connector_pk, name = task.connector_id, task.display_name
        services.task_delete(task)
        messages.success(request, f"Task “{name}” was deleted.")
        return redirect_to(request, "connectors:connector-detail", connector_pk)
    return render(request, "connectors/task_confirm_delete.html", {"task": task})
