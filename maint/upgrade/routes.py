"""Drive a release's own database upgrader over HTTP, as its page's JavaScript does.

No release has a command-line upgrade. 3.0 answers `install/index.php?route=upgrade/upgrade/next&step=N`
with JSON whose `next` is relative to install/; 4.x starts at `upgrade/upgrade_1&admin=<admin folder>`
and follows absolute `next` URLs to upgrade_12, ending with a `redirect`. The first `error`, or an answer
that is not JSON (a PHP fatal error prints HTML), stops the upgrade.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from maint.errors import MaintError

MAX_STEPS = 60  # no release has more than a dozen; a loop beyond this is a broken upgrader


class UpgradeRouteError(MaintError):
    exit_code = 40


@dataclass
class RouteAnswer:
    url: str
    status: int
    seconds: float
    data: dict[str, Any]

    @property
    def message(self) -> str:
        return str(self.data.get("success") or self.data.get("error") or "")


def first_url(base_url: str, line: str, admin_dir: str) -> str:
    install = urljoin(base_url, "install/")
    if line.startswith("3"):
        return install + "index.php?route=upgrade/upgrade/next&step=1"
    return install + f"index.php?route=upgrade/upgrade_1&admin={admin_dir}"


def next_url(current: str, answer: dict[str, Any], base_url: str) -> str | None:
    """Where the upgrader goes next; None when it is done. Relative `next` (3.0) is relative to install/."""
    nxt = answer.get("next")
    if not nxt:
        return None
    nxt = str(nxt).replace("&amp;", "&")
    url = urljoin(urljoin(base_url, "install/"), nxt)
    # Stay on the store being upgraded, whatever host the upgrader's HTTP_SERVER guess named.
    want, got = urlsplit(base_url), urlsplit(url)
    return got._replace(scheme=want.scheme, netloc=want.netloc).geturl()


def _excerpt(body: str) -> str:
    text = re.sub(r"<[^>]+>", " ", body)
    return " ".join(text.split())[:240] or "(empty body)"


def run_upgrader(base_url: str, line: str, admin_dir: str, *, session: requests.Session | None = None,
                 on_step: Callable[[RouteAnswer], None] | None = None, timeout: float = 300,
                 label: str = "store", store: str | None = None) -> list[RouteAnswer]:
    """Run every step; raises UpgradeRouteError with the step and the upgrader's words on the first failure."""
    http = session or requests.Session()
    url: str | None = first_url(base_url, line, admin_dir)
    answers: list[RouteAnswer] = []
    while url is not None:
        if len(answers) >= MAX_STEPS:
            raise UpgradeRouteError(f"{label}: the upgrader did not finish after {MAX_STEPS} steps", store=store)
        began = time.monotonic()
        try:
            response = http.get(url, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise UpgradeRouteError(f"{label}: upgrade step {len(answers) + 1} did not answer: "
                                    f"{type(exc).__name__.replace('Error', ' error')}", store=store) from None
        try:
            data = json.loads(response.text)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            raise UpgradeRouteError(f"{label}: upgrade step {len(answers) + 1} answered HTTP {response.status_code} "
                                    f"without JSON: {_excerpt(response.text)}", store=store) from None
        answer = RouteAnswer(url, response.status_code, round(time.monotonic() - began, 3), data)
        answers.append(answer)
        if on_step is not None:
            on_step(answer)
        if data.get("error"):
            error = data["error"]
            words = "; ".join(f"{k}: {v}" for k, v in error.items()) if isinstance(error, dict) else str(error)
            raise UpgradeRouteError(f"{label}: upgrade step {len(answers)} failed: {_excerpt(words)}", store=store)
        url = next_url(url, data, base_url)
    return answers
