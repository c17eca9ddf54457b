"""Delivery targets (``--to URL``): the run's event stream sent to systems under test while it simulates.

Importing this package registers every target module by its URL scheme (third-party ones: entry points in the
group ``procsim.targets``, see :mod:`procsim.registry`). ``open_targets`` turns the ``--to``
URLs into targets (every bad URL reported at once); ``procsim.targets.pacing`` paces the simulation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from procsim.errors import UsageError
from procsim.sinks.base import SinkContext
from procsim.targets import jsonl  # noqa: F401 - imported for registration
from procsim.targets.base import SCHEMES, Options, Target, TargetContext, public_url

__all__ = ["SCHEMES", "Target", "TargetContext", "Options", "check_urls", "known_schemes", "open_targets",
           "run_key", "public_url"]

SCHEMES.load_plugins()  # third-party targets: entry points in the group 'procsim.targets', named by scheme

_LAZY = {"http": "http", "https": "http", "postgresql": "postgres", "postgres": "postgres", "kafka": "kafka", "smtp": "smtp"}


def known_schemes() -> list[str]:
    """Every URL scheme ``--to`` accepts, sorted: registered targets and the built-in ones imported on first use."""
    return sorted({*SCHEMES, *_LAZY})


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].lower() if ":" in url else ""


def _load(scheme: str) -> type[Target] | None:
    # targets with third-party clients are imported only when asked for
    mod = _LAZY.get(scheme)
    if mod is not None and scheme not in SCHEMES:
        __import__(f"procsim.targets.{mod}")
    return SCHEMES.get(scheme)


def check_urls(urls: Sequence[str]) -> list[tuple[type[Target], Options]]:
    """Each URL's target class and parsed options; every problem at once as a UsageError."""
    out, bad = [], []
    known = known_schemes()
    for url in urls:
        scheme = _scheme(url)
        try:
            cls = _load(scheme)
        except ImportError as e:
            bad.append(f"--to {public_url(url)}: this target needs a package that is not installed ({e.name}); "
                       "install procsim[stream]")
            continue
        if cls is None:
            bad.append(f"--to {public_url(url)}: unknown target '{scheme}' (choose from: {', '.join(known)}; "
                       "e.g. jsonl:-, http://host/hook, postgresql://user@host/db)")
            continue
        query = url.split("?", 1)[1] if "?" in url else ""
        try:
            out.append((cls, cls.options_type.parse(url, query)))
        except UsageError as e:
            bad.append(str(e))
    if bad:
        raise UsageError("\n".join(bad))
    return out


def run_key(inputs: dict[str, str], seed: int, cases: int | None, horizon: float | None, start: str) -> str:
    """Names the run's events for idempotency: the same inputs, seed, size and start give the same key."""
    text = json.dumps([sorted(inputs.items()), seed, cases, horizon, start])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_targets(urls: Sequence[str], ctx: SinkContext, key: str, *, resume: bool = False,
                 secret_env: str | None = None, mail_to: str | None = None) -> list[Target]:
    """Make the targets (on the calling thread: connection errors surface before the simulation starts)."""
    parsed = check_urls(urls)
    secret = None
    if secret_env is not None:
        value = os.environ.get(secret_env)
        if not value:
            raise UsageError(f"--secret-env {secret_env}: the environment variable is not set or empty")
        secret = value.encode()
    targets: list[Target] = []
    try:
        for i, (url, (cls, options)) in enumerate(zip(urls, parsed)):
            slug = re.sub(r"[^A-Za-z0-9]+", "-", public_url(url).split("?", 1)[0]).strip("-")[:60]
            state = Path(ctx.out_dir) / ".targets" / f"{i}-{slug}"
            state.mkdir(parents=True, exist_ok=True)
            env = {"mail_to": mail_to} if mail_to else {}
            targets.append(cls(ctx, TargetContext(url, key, state, resume, secret, env), options))
    except BaseException:
        for t in targets:
            t.abort()
        raise
    return targets


def manifest_entry(targets: Sequence[Target]) -> list[dict[str, Any]]:
    return [t.report() for t in targets]
