"""Flyer layouts: `flyers/<name>.yaml` among the playbooks, over the defaults of `flyers/default.yaml`.

The package ships `default.yaml` (maint/playbooks/flyers/); the agency's playbooks folder may add
layouts or replace the default, file by file, as with every playbook (maint.playbook_files)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maint.errors import PlaybookError
from maint.playbook_files import BUILTIN_DIR, playbook_path

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Layout:
    name: str
    width: int
    square: int
    columns: int
    max_products: int
    regular_font: Path
    bold_font: Path
    sizes: Mapping[str, int]
    colors: Mapping[str, str]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PlaybookError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise PlaybookError(f"{path}: expected a mapping of layout keys")
    return data


def load_layout(name: str = "default", agency: Path | None = None) -> Layout:
    """The layout `name`: the agency's playbooks folder first (`agency`/flyers/), then the package's."""
    if not _NAME.match(name):
        raise PlaybookError(f"layout name {name!r}: letters, digits, - and _ only")
    base = _read(playbook_path("flyers/default.yaml", agency))
    path = playbook_path(f"flyers/{name}.yaml", agency)
    if not path.is_file():
        folders = [BUILTIN_DIR / "flyers"] + ([Path(agency).expanduser() / "flyers"] if agency else [])
        known = ", ".join(sorted({p.stem for f in folders for p in f.glob("*.yaml")}))
        raise PlaybookError(f"no flyer layout {name!r} in {' or '.join(map(str, folders))} (known: {known})")
    folder = path.parent
    own = _read(path) if name != "default" else {}
    merged = {**base, **own}
    for key in ("sizes", "colors", "fonts"):
        merged[key] = {**(base.get(key) or {}), **(own.get(key) or {})}

    def number(key: str, low: int, high: int) -> int:
        value = merged.get(key)
        if not isinstance(value, int) or not low <= value <= high:
            raise PlaybookError(f"{path}: {key} must be a whole number from {low} to {high}, got {value!r}")
        return value

    for key, colour in merged["colors"].items():
        if not isinstance(colour, str) or not _COLOUR.match(colour):
            raise PlaybookError(f"{path}: colors.{key} must be #rrggbb, got {colour!r}")
    for key, size in merged["sizes"].items():
        if not isinstance(size, int) or not 6 <= size <= 200:
            raise PlaybookError(f"{path}: sizes.{key} must be 6..200, got {size!r}")
    dirs = [Path(d) for d in merged.get("font_dirs") or []] + [folder]

    def font(kind: str) -> Path:
        file = str(merged["fonts"].get(kind) or "")
        for d in dirs:
            if file and (d / file).is_file():
                return d / file
        raise PlaybookError(
            f"{path}: font {file!r} ({kind}) not found in {', '.join(map(str, dirs))} "
            "(install fonts-dejavu-core: scripts/install-system-deps)"
        )

    return Layout(
        name=name,
        width=number("width", 300, 2000),
        square=number("square", 400, 4000),
        columns=number("columns", 1, 4),
        max_products=number("max_products", 1, 48),
        regular_font=font("regular"),
        bold_font=font("bold"),
        sizes=dict(merged["sizes"]),
        colors=dict(merged["colors"]),
    )
