"""The API's error envelope and the exact bodies of its authentication errors."""

from __future__ import annotations

MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field "
    "(with blank username) if you're accessing the API from your browser and are prompted for "
    "a username. You can obtain an API key from https://platform.openai.com/account/api-keys."
)
MISSING_SCOPE_MESSAGE = (
    "You have insufficient permissions for this operation. Missing scopes: {scope}. Check that "
    "you have the correct role in your organization (Reader, Writer, Owner), and if you're "
    "using a restricted API key, that it has the necessary scopes."
)


class ApiError(Exception):
    """An error answer: `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = kind
        self.param = param
        self.code = code
        self.headers = headers

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid(param: str, message: str) -> ApiError:
    return ApiError(400, message, param=param)


def missing_key() -> ApiError:
    return ApiError(401, MISSING_KEY_MESSAGE)


def invalid_key(key: str) -> ApiError:
    message = (
        f"Incorrect API key provided: {redact(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )
    return ApiError(401, message, code="invalid_api_key")


def missing_scope(scope: str) -> ApiError:
    return ApiError(403, MISSING_SCOPE_MESSAGE.format(scope=scope))


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def redact(key: str) -> str:
    """`sk-admin-...abcd` -> `sk-admin*******abcd`: the first 8 and last 4 characters."""
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]
