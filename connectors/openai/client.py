"""The OpenAI Admin API client: HTTP, authentication and typed errors.

Every error carries a message a user can act on. No message, repr or log line ever
contains the admin key: it lives only in the client's Authorization header.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson
from django.views.decorators.debug import sensitive_variables

NON_ADMIN_PREFIXES = {
    "sk-proj-": "a project API key",
    "sk-svcacct-": "a service account key",
}
CREATE_ADMIN_KEY = (
    "Create an Admin key with at least Read-Only permission under Settings → "
    "Organization → Admin keys (only organization Owners can create one)."
)


class OpenAIError(Exception):
    """A request to the Admin API failed. `str(error)` is the user-facing message."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AuthenticationError(OpenAIError):
    """The key is missing, invalid or revoked (401)."""


class WrongKeyTypeError(AuthenticationError):
    """A project or service-account key where an admin key is needed."""


class MissingScopeError(AuthenticationError):
    """An admin key without a scope the request needs (for example api.usage.read)."""


class UnusableKeyError(AuthenticationError):
    """A key with a character no HTTP header can carry: it is refused before any request."""


class BadRequestError(OpenAIError):
    """OpenAI refused a parameter (400)."""


class UnexpectedResponseError(OpenAIError):
    """An answer that breaks the API's contract: unknown status, bad JSON, wrong shape."""


class TransientError(OpenAIError):
    """Worth retrying: rate limits, server errors, timeouts, dropped connections."""


class RateLimitedError(TransientError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class MalformedBodyError(TransientError):
    """A 200 answer whose body is not JSON: cut off or garbled on the way."""


class UnreachableError(TransientError):
    """The base URL cannot be reached or did not answer in time."""


def key_type_error(key: str) -> WrongKeyTypeError | None:
    """A project or service-account key is recognisable by its prefix, before any request."""
    for prefix, what in NON_ADMIN_PREFIXES.items():
        if key.startswith(prefix):
            return WrongKeyTypeError(
                f"This is {what} ({prefix}…), not an organization Admin key (sk-admin-…). "
                f"{CREATE_ADMIN_KEY}"
            )
    return None


LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def key_character_problem(key: str) -> str:
    """The first character of a key that is not visible ASCII, in words: what it is (by
    its Unicode name) and where. "" when there is none. Never repeats the key itself.

    An Authorization header carries ASCII only, and no key has spaces: such a character
    comes from copying (a zero-width space from a web page, a line break, a lookalike
    letter), and would otherwise fail deep in the HTTP library.
    """
    found = [(n, c) for n, c in enumerate(key, start=1) if not "!" <= c <= "~"]
    if not found:
        return ""
    position, char = found[0]
    where = f"at position {position}"
    if position == len(key) > 1:
        where += " (the last character)"
    more = f", and {len(found) - 1} more like it" if len(found) > 1 else ""
    return f"{_character(char)} {where}{more}"


def _character(char: str) -> str:
    code = f"U+{ord(char):04X}"
    named = f"{code} {unicodedata.name(char, '')}".strip()
    category = unicodedata.category(char)
    if char == " ":
        return "a space"
    if char == "\t":
        return "a tab"
    if char in LINE_BREAKS:
        return f"a line break ({named})"
    if category == "Zs":
        return f"a space-like character ({named})"
    if category == "Cc":
        return f"a control character ({named})"
    if category in ("Mn", "Me"):
        return f"a combining mark ({named})"
    if category.startswith("C"):  # Cf (zero-width, joiners, BOM), unassigned, private use
        return f"an invisible character ({named})"
    return f"a character that is not plain ASCII ({named})"


class AdminClient:
    """A thin httpx client for the Admin API of one organization."""

    @sensitive_variables()  # the key, and the header built from it below
    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        problem = key_character_problem(api_key)
        if problem:  # a key saved before the form refused such characters
            raise UnusableKeyError(
                f"The saved ADMIN KEY contains {problem}, so it cannot be sent. Enter the "
                "key again on the connector's Edit page."
            )
        self.base_url = base_url.rstrip("/")
        self.before_request = before_request  # rate limiting and request counting
        self.server_time: datetime | None = None  # from the last answer's Date header
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @sensitive_variables()  # the frames below hold the Authorization header
    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET one page and return its JSON object, or raise a typed OpenAIError."""
        if self.before_request:
            self.before_request()
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise UnreachableError(
                f"OpenAI did not answer in time ({self._http.timeout.read:g} s) at "
                f"{self.base_url}. Try again later, or check the API base URL."
            ) from None
        except httpx.ConnectError as error:
            raise UnreachableError(
                f"Cannot connect to {self.base_url}: {_reason(error)}. Check the API base "
                "URL and that this server can reach it."
            ) from None
        except httpx.TransportError as error:
            raise TransientError(
                f"The connection to {self.base_url} broke off: {_reason(error)}."
            ) from None
        self.server_time = _server_time(response)
        return _parse(response, path)

    def check_key(self) -> None:
        """Prove the key can read usage and the directory: two cheap reads.

        Costs with limit=1 needs the api.usage.read scope; projects with limit=1 needs
        the directory (management read) permission.
        """
        yesterday = int(time.time()) - 86400
        page = self.get("/organization/costs", {"start_time": yesterday, "limit": 1})
        _expect(page, "page", "/organization/costs")
        listing = self.get("/organization/projects", {"limit": 1})
        _expect(listing, "list", "/organization/projects")


def _server_time(response: httpx.Response) -> datetime | None:
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None


def _reason(error: httpx.TransportError) -> str:
    return str(error) or type(error).__name__


def _parse(response: httpx.Response, path: str) -> dict[str, Any]:
    if response.status_code == 200:
        try:
            body = orjson.loads(response.content)
        except ValueError:
            raise MalformedBodyError(
                f"OpenAI's answer to {path} was not valid JSON (it may have been cut off).",
                200,
            ) from None
        if not isinstance(body, dict):
            raise UnexpectedResponseError(f"OpenAI's answer to {path} was not a JSON object.")
        return body
    raise _error_for(response, path)


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _error_for(response: httpx.Response, path: str) -> OpenAIError:
    status = response.status_code
    error = _error_body(response)
    text = str(error.get("message") or "")
    if status in (401, 403):
        return _auth_error(status, text, str(error.get("code") or ""))
    if status == 429:
        return RateLimitedError(
            "OpenAI is rate limiting this organization (429). The request will be retried.",
            _retry_after(response),
        )
    if status >= 500:
        return TransientError(f"OpenAI had a server error ({status}) on {path}.", status)
    if status == 400:
        param = error.get("param") or "a parameter"
        return BadRequestError(f"OpenAI refused {param} on {path}: {text}".strip(), status)
    if status == 404:
        return UnexpectedResponseError(
            f"{path} was not found (404). Check that the API base URL ends in /v1.", status
        )
    return UnexpectedResponseError(f"OpenAI answered {path} with status {status}.", status)


def _auth_error(status: int, text: str, code: str) -> AuthenticationError:
    if "Missing scopes" in text:
        scopes = re.search(r"Missing scopes:\s*([^\s,]+(?:,\s*[^\s,]+)*)", text)
        missing = scopes.group(1).rstrip(".") if scopes else "api.usage.read"
        return MissingScopeError(
            f"The key lacks the {missing} scope ({status}), so no usage or cost data can be "
            f"read. {CREATE_ADMIN_KEY}",
            status,
        )
    if "project" in text.lower() or "service account" in text.lower():
        return WrongKeyTypeError(
            f"OpenAI says this is not an organization Admin key ({status}). {CREATE_ADMIN_KEY}",
            status,
        )
    if "didn't provide an API key" in text:
        return AuthenticationError(f"No ADMIN KEY reached OpenAI ({status}).", status)
    if status == 401:
        return AuthenticationError(
            f"OpenAI rejected the ADMIN KEY as invalid or revoked ({status}"
            f"{' ' + code if code else ''}). Check for a typo, or create a new key. "
            f"{CREATE_ADMIN_KEY}",
            status,
        )
    return AuthenticationError(
        f"The key is not allowed to read this organization's data ({status}). {CREATE_ADMIN_KEY}",
        status,
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _expect(body: dict[str, Any], kind: str, path: str) -> None:
    if body.get("object") != kind or not isinstance(body.get("data"), list):
        raise UnexpectedResponseError(
            f"OpenAI's answer to {path} does not look like the Admin API (expected a "
            f"'{kind}' object). Check the API base URL."
        )
