"""What a request can reach: every URL of the URL conf, the values its path takes, and
the query parameters and form fields its view reads.

A new URL is found in the URL conf, its path filled with the ids of real objects (and
bogus ones), and the parameters its view reads are found by watching the view read
them (`discover`): nothing here needs to learn about a new view. What a view reads
without naming it (Django's admin reads its lists' filters by iterating the query) is
listed in `KNOWN_QUERY`, and the values that change which fields a form has in
`BRANCHES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.shortcuts import resolve_url
from django.urls import URLResolver, get_resolver, reverse
from django.utils.datastructures import MultiValueDict

from connectors.explore import datatables, directory
from connectors.openai.streams import QUERY_TYPES
from connectors.setup.catalogue import CATALOGUE

ROLES = ("anonymous", "viewer", "administrator")

# The literal segment before an id names its model: connectors/<int:pk>/ is a connector.
# Django's admin names it as <app>/<model>/, which `_model_before` reads by itself.
SEGMENT_MODELS = {
    "connectors": "connectors.Connector",
    "tasks": "connectors.Task",
    "runs": "connectors.TaskRun",
}
BOGUS_IDS = ("0", "9223372036854775808")
BOGUS_TEXT = ("%00", "\u202etxt", "a" * 300, "nope", "..", "Completions", "costs ", "\u200b")

# Values that change which fields a form has (each QUERY TYPE its own parameters) or
# which parameters a page reads (a custom time range reads start and end): discovery
# tries each, and a sweep keeps them valid while other fields take hostile values.
BRANCHES = {"type": QUERY_TYPES, "preset": ("custom",)}

# Django's admin reads a list's filters, search and order by iterating request.GET, and
# its forms' buttons by name; discovery cannot see those reads.
ADMIN_LIST = ("q", "o", "p", "e", "all", "_to_field", "_popup", "_changelist_filters")
ADMIN_FORM = ("_changelist_filters", "_popup", "_to_field", "_continue", "_addanother")
KNOWN_QUERY = {"_changelist": ADMIN_LIST, "_change": ADMIN_FORM, "_add": ADMIN_FORM}
KNOWN_FORM = {
    "_changelist": ("action", "_selected_action", "select_across", "index", "post"),
    "_delete": ("post",),
}

ADMIN = "django.contrib.admin"
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    name: str  # "connectors:table-detail"; an unnamed pattern by its text
    pattern: str  # "connectors/<int:pk>/tables/<str:table>/"
    django_admin: bool = False  # a page of Django's admin site (Django's own code)

    @property
    def params(self) -> list[str]:
        return [a or b for a, b in _PARAM.findall(self.pattern)]

    def path(self, values: dict[str, str]) -> str:
        def fill(match: re.Match) -> str:
            return quote(values[match.group(1) or match.group(2)], safe="")

        return "/" + _PARAM.sub(fill, self.pattern)


def routes() -> list[Route]:
    """Every URL pattern of the URL conf, admin included, in its order."""

    def walk(patterns, prefix: str, namespace: str) -> Iterator[Route]:
        for p in patterns:
            text = prefix + str(p.pattern).lstrip("^").rstrip("$")
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, text, p.namespace or namespace)
            else:
                name = f"{namespace}:{p.name}" if namespace and p.name else p.name
                module = getattr(p.callback, "__module__", "")
                yield Route(name or f"{namespace}:{text}", text, module.startswith(ADMIN))

    found = list(walk(get_resolver().url_patterns, "", ""))
    return list({r.name: r for r in found}.values())


def _model_before(route: Route, param: str):
    """The model whose ids fill `param`: named by the literal segments before it."""
    before = route.pattern.split(f"{param}>")[0].split("/")
    segments = [s for s in before[:-1] if s and "<" not in s and "(" not in s]
    if len(segments) >= 2:
        try:
            return apps.get_model(segments[-2], segments[-1])
        except (LookupError, ValueError):
            pass
    label = SEGMENT_MODELS.get(segments[-1]) if segments else None
    return apps.get_model(label) if label else None


def _named_values(param: str) -> list[str] | None:
    """Real values of path parameters that are not ids."""
    if param == "table":
        tables = [s.table for s in datatables.usage_streams()]
        return tables + list(directory.DIRECTORY_TABLES)
    if param == "kind":
        return list(CATALOGUE)
    if param == "app_label":
        return sorted({m._meta.app_label for m in admin.site._registry})
    if param == "content_type_id":
        models = list(admin.site._registry)
        return [str(ContentType.objects.get_for_model(m).pk) for m in models]
    return None


def path_values(route: Route) -> dict[str, tuple[list[str], list[str]]]:
    """For each path parameter: its real values (ids of saved objects) and bogus ones."""
    found = {}
    for param in route.params:
        named = _named_values(param)
        if named is not None:
            found[param] = (named, list(BOGUS_TEXT))
            continue
        model = _model_before(route, param)
        if model is None and param in ("object_id", "pk", "id"):
            model = apps.get_model(SEGMENT_MODELS["connectors"])
        if model is None:
            found[param] = ([], list(BOGUS_TEXT))
            continue
        real = [str(pk) for pk in model.objects.order_by("pk").values_list("pk", flat=True)[:6]]
        found[param] = (real, list(BOGUS_IDS + BOGUS_TEXT[:1]))
    return found


@dataclass
class Surface:
    """What a route's view reads, and a valid submission of its form as the page offers
    it (the inputs' current values)."""

    query: set[str] = field(default_factory=set)
    form: set[str] = field(default_factory=set)
    baseline: dict[str, list[str]] = field(default_factory=dict)
    closed_to: set[str] = field(default_factory=set)  # roles refused (403, or to log in)


@contextmanager
def reads() -> Iterator[list[tuple[int, str]]]:
    """Record every key read from any QueryDict (request.GET, request.POST) meanwhile,
    with the id of the dict it was read from."""
    seen: list[tuple[int, str]] = []
    originals = {n: getattr(MultiValueDict, n) for n in ("__getitem__", "get", "getlist")}

    def recording(original):
        def read(self, key, *args, **kwargs):
            seen.append((id(self), key))
            return original(self, key, *args, **kwargs)

        return read

    for name, original in originals.items():
        setattr(MultiValueDict, name, recording(original))
    MultiValueDict.__contains__ = recording(dict.__contains__)
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(MultiValueDict, name, original)
        del MultiValueDict.__contains__


class _Controls(HTMLParser):
    """The names and values a page offers: form controls and links' query strings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.offered: list[tuple[str, str]] = []  # every value any control offers
        self.current: dict[str, list[str]] = {}  # what submitting the page's form sends
        self._select = self._textarea = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        for attr in ("href", "hx-get", "hx-post", "action"):
            if "?" in a.get(attr, ""):
                self.offered += parse_qsl(urlsplit(a[attr]).query, keep_blank_values=True)
        name = a.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            value = a.get("value", "on" if a.get("type") in ("checkbox", "radio") else "")
            self.offered.append((name, value))
            if a.get("type") not in ("checkbox", "radio", "submit") or "checked" in a:
                self.current.setdefault(name, []).append(value)
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select:
            self.offered.append((self._select, a.get("value", "")))
            if "selected" in a:
                self.current.setdefault(self._select, []).append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.current.setdefault(name, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.current[self._textarea][-1] += data.lstrip("\n") if data else ""


def discover(route: Route, client, values: dict[str, tuple[list[str], list[str]]], good: dict):
    """Send the route a GET (again as htmx, when a plain one is not answered 200) and a
    POST as an administrator (the role that reaches the most), then a POST with each of
    BRANCHES' values the view read, each in a transaction rolled back after it, and
    record what the view reads. The values the pages offer are added to `good`."""
    surface = Surface()
    path = route.path({p: (real or bogus)[0] for p, (real, bogus) in values.items()})
    response = _read_once(client, "GET", False, path, None, surface)
    _harvest(_html(response), surface, good)
    closed = response.status_code == 403 or _to_login(response)
    if response.status_code != 200:
        _read_once(client, "GET", True, path, None, surface)
    response = _read_once(client, "POST", False, path, None, surface)
    _harvest(_html(response), None, good)
    if closed and (response.status_code == 403 or _to_login(response)):
        surface.closed_to.add("administrator")
    for key in sorted((surface.query | surface.form) & set(BRANCHES)):
        for value in BRANCHES[key]:
            _read_once(client, "POST", False, path, (key, value), surface)
    surface.query |= _known(KNOWN_QUERY, route)
    surface.form |= _known(KNOWN_FORM, route)
    if route.name.endswith("_changelist"):
        surface.query |= _list_filters(route)
    return surface


def _read_once(client, method: str, htmx: bool, path: str, branch, surface: Surface):
    data = dict([branch]) if branch else {}
    headers = {"HX-Request": "true"} if htmx else {}
    cookies = SimpleCookie(client.cookies)  # a logout must not log the client out for good
    with transaction.atomic(), reads() as seen:
        if method == "GET":
            response = client.get(path, data, headers=headers)
        else:
            response = client.post(path, data, headers=headers)
        if response.streaming:
            b"".join(response.streaming_content)  # an export's queries run as it streams
        transaction.set_rollback(True)
    client.cookies = cookies
    request = response.wsgi_request
    get, post = request.__dict__.get("GET"), getattr(request, "_post", None)
    surface.query |= {k for i, k in seen if get is not None and i == id(get)}
    surface.form |= {k for i, k in seen if post is not None and i == id(post)}
    return response


def _to_login(response) -> bool:
    where = response.get("Location", "") if response.status_code == 302 else ""
    return urlsplit(where).path in (resolve_url(settings.LOGIN_URL), reverse("admin:login"))


def _html(response) -> str:
    if response.streaming or "html" not in response.get("Content-Type", ""):
        return ""
    return response.content.decode("utf-8", "replace")


def _harvest(html: str, surface: Surface | None, good: dict) -> None:
    controls = _Controls()
    controls.feed(html)
    for key, value in controls.offered:
        if len(value) <= 300 and len(good.setdefault(key, [])) < 40 and value not in good[key]:
            good[key].append(value)
    if surface is not None:
        surface.baseline = controls.current


def _known(known: dict[str, tuple[str, ...]], route: Route) -> set[str]:
    return {k for suffix, keys in known.items() if route.name.endswith(suffix) for k in keys}


def _list_filters(route: Route) -> set[str]:
    """An admin list's filters, as its links name them (`query_type__exact`)."""
    for model, model_admin in admin.site._registry.items():
        if route.name.endswith(f"{model._meta.app_label}_{model._meta.model_name}_changelist"):
            return {f"{f}__exact" for f in model_admin.list_filter if isinstance(f, str)}
    return set()


def partials() -> list[str]:
    """The template partials a page can answer with alone: the HX-Target values its views
    compare."""
    found = set()
    for folder in settings.TEMPLATES[0]["DIRS"]:
        for template in folder.rglob("*.html"):
            found |= set(re.findall(r"{% partialdef ([\w-]+)", template.read_text()))
    return sorted(found)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def local_only(good: dict[str, list[str]]) -> dict[str, list[str]]:
    """The values without a URL to anywhere but this machine: a valid form posted with
    one would make the key check call it."""

    def safe(value: str) -> bool:
        if "://" not in value:
            return True
        try:
            parts = urlsplit(value.strip())
            return parts.hostname in LOOPBACK and not parts.username
        except ValueError:
            return False

    return {k: [v for v in values if safe(v)] for k, values in good.items()}
