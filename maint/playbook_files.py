"""Where the playbooks come from: the package's own copy, overridden or extended by the agency's.

The matrix, advisories, health checks and plans ship inside the package (``maint/playbooks/``,
found through importlib.resources wherever maint is installed). An agency points ``maint.playbooks``
(``FABRIC_MAINT_PLAYBOOKS``) at a folder of its own; each file there replaces the built-in file of
the same name, or, when it starts with ``extends: builtin``, is merged over it: mappings key by key,
lists of entries by their ``id``/``version``/``name`` (same key replaces, new key is added).
A file the agency folder lacks comes from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from maint.errors import PlaybookError

# A real folder for any ordinary install (site-packages, pipx venv, editable clone); zip imports are not supported.
BUILTIN_DIR = Path(str(resources.files("maint").joinpath("playbooks")))
NAMES = ("matrix.yaml", "advisories.yaml", "health.yaml", "plans.yaml")
EXTENDS_KEY = "extends"
_ENTRY_KEYS = ("id", "version", "name")
# libyaml's safe loader is several times faster (the matrix is read on every `check`).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def playbook_path(name: str, folder: Path | None = None) -> Path:
    """The file a task reads for ``name``: the agency's when it has one, else the built-in one."""
    if folder is not None:
        own = Path(folder).expanduser() / name
        if own.is_file():
            return own
    return BUILTIN_DIR / name


def describe(name: str, folder: Path | None = None) -> str:
    """One line for `maint doctor`: which file is used, and how."""
    path = playbook_path(name, folder)
    if path.parent == BUILTIN_DIR:
        return f"{path} (built-in)"
    try:
        extends = _is_extension(_parse(path))
    except PlaybookError:
        extends = False
    return f"{path} ({'extends the built-in one' if extends else 'replaces the built-in one'})"


def read_playbook(path: Path) -> Any:
    """Parse a playbook file; an agency file saying ``extends: builtin`` comes back merged over the built-in one.

    PlaybookError names the file (and the line, for YAML syntax errors).
    """
    data = _parse(path)
    if not _is_extension(data):
        return data
    value = data[EXTENDS_KEY]
    if value != "builtin":
        raise PlaybookError(f"{path}: {EXTENDS_KEY}: {value!r} is not supported (only 'builtin')")
    base_file = BUILTIN_DIR / Path(path).name
    if not base_file.is_file():
        raise PlaybookError(f"{path}: {EXTENDS_KEY}: builtin: there is no built-in {Path(path).name}")
    own = {k: v for k, v in data.items() if k != EXTENDS_KEY}
    return merge(_parse(base_file), own)


def merge(base: Any, extra: Any) -> Any:
    """``extra`` over ``base``: mappings recursively, lists of keyed entries by key, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(extra, Mapping):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        key = _entry_key(base + extra)
        if key is None:
            return extra
        merged = {entry[key]: entry for entry in base}
        merged.update({entry[key]: entry for entry in extra})  # replaces in place, appends new ones
        return list(merged.values())
    return extra


def _entry_key(entries: list[Any]) -> str | None:
    for key in _ENTRY_KEYS:
        if entries and all(isinstance(e, Mapping) and isinstance(e.get(key), str | int | float) for e in entries):
            return key
    return None


def _is_extension(data: Any) -> bool:
    return isinstance(data, Mapping) and EXTENDS_KEY in data


def _parse(path: Path) -> Any:
    try:
        with Path(path).open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_SafeLoader)  # safe, C-accelerated where available
    except FileNotFoundError:
        raise PlaybookError(f"{path}: cannot read (not found)") from None
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise PlaybookError(f"{path}: not valid YAML ({where}{getattr(exc, 'problem', None) or exc})") from None
