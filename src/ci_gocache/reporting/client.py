"""A small REST client over urllib: pagination by Link headers, rate-limit waits, clear errors.

The token goes in an *unredirected* header, so a redirect (GitHub sends log downloads to a
blob-storage host) never carries it to another server.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

USER_AGENT = "ci-gocache-report"
_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^";]+)"?')


class ApiError(Exception):
    """The API refused a request; `str()` says what to do. `status` is 0 when the server was unreachable."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RateLimitExceeded(Exception):
    """The API asks for a longer wait than the configured bound."""

    def __init__(self, wait_seconds: float, url: str) -> None:
        super().__init__(f"rate limited for {wait_seconds:.0f}s at {url}")
        self.wait_seconds = wait_seconds
        self.url = url


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def next_link(link_header: str | None) -> str | None:
    """The rel="next" URL of an RFC 8288 Link header (GitHub and GitLab both send one)."""
    for url, relation in _LINK.findall(link_header or ""):
        if "next" in relation.split():
            return url
    return None


class ApiClient:
    def __init__(
        self,
        base_url: str,
        service: str,
        auth_headers: dict[str, str],
        explain: Callable[[int, str, str], str],
        max_wait: float = 300.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.auth_headers = auth_headers
        self.explain = explain  # (status, path, server message) -> what the user should do
        self.wait_budget = max_wait
        self.timeout = timeout
        self.sleep = sleep
        self.waited = 0.0
        self.requests = 0

    def url_for(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if params:
            query = urllib.parse.urlencode({key: value for key, value in params.items() if value is not None})
            url += ("&" if "?" in url else "?") + query
        return url

    def get(self, path: str, params: dict[str, Any] | None = None, accept: str = "application/json",
            allow: tuple[int, ...] = ()) -> Response:
        """GET with rate-limit waits. Statuses in `allow` are returned instead of raised."""
        url = self.url_for(path, params)
        while True:
            response = self._open(url, accept)
            if 200 <= response.status < 300 or response.status in allow:
                return response
            wait = rate_limit_wait(response)
            if wait is not None:
                if self.waited + wait > self.wait_budget:
                    raise RateLimitExceeded(wait, url)
                self.sleep(wait)
                self.waited += wait
                continue
            raise ApiError(response.status, self._message(response, path))

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.get(path, params).json()

    def paginate(self, path: str, params: dict[str, Any] | None = None, items_key: str | None = None) -> Iterator[Any]:
        """Every item of every page, following Link rel="next" until it runs out."""
        url: str | None = self.url_for(path, params)
        while url:
            response = self.get(url)
            document = response.json()
            items = document.get(items_key, []) if items_key else document
            yield from items
            url = next_link(response.headers.get("link"))

    def _open(self, url: str, accept: str) -> Response:
        request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": USER_AGENT})
        for name, value in self.auth_headers.items():
            request.add_unredirected_header(name, value)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as handle:
                return Response(handle.status, _lower(handle.headers), handle.read(), handle.url)
        except urllib.error.HTTPError as error:
            body = error.read() if error.fp is not None else b""
            return Response(error.code, _lower(error.headers), body, url)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(0, f"cannot reach {self.service} at {url}: {reason}; check the URL and the network") from None

    def _message(self, response: Response, path: str) -> str:
        server = ""
        try:
            document = json.loads(response.body.decode("utf-8"))
            if isinstance(document, dict):
                server = str(document.get("message") or document.get("error") or "")
        except ValueError:
            server = response.body.decode("utf-8", "replace").strip()[:200]
        reason = _REASONS.get(response.status, "")
        relative = path.replace(self.base_url, "") if path.startswith(self.base_url) else path
        head = f"{self.service} API GET {relative.split('?')[0]}: {response.status} {reason}".rstrip()
        detail = f" ({server})" if server else ""
        return f"{head}{detail}: {self.explain(response.status, relative, server)}"


_REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone", 422: "Unprocessable Entity",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()} if headers else {}


def rate_limit_wait(response: Response) -> float | None:
    """Seconds the server asks us to wait, or None when the response is not a rate limit."""
    if response.status not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after:
        if retry_after.strip().isdigit():
            return float(retry_after.strip())
        parsed = email.utils.parsedate_to_datetime(retry_after)
        if parsed is not None:
            return max(0.0, parsed.timestamp() - time.time())
    remaining = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining"))
    reset = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset"))
    if remaining == "0" and reset and reset.strip().isdigit():
        return max(0.0, int(reset) - time.time()) + 1.0
    text = response.body[:2000].decode("utf-8", "replace").lower()
    if response.status == 429 or "rate limit" in text:
        return 60.0  # GitHub: without a header, wait at least a minute
    return None
