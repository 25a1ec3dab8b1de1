"""Reads letter templates from config/templates/<policy>/ with a fallback to default/ (the I/O of letters)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .core.errors import ConfigError

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "config" / "templates"


@lru_cache(maxsize=64)
def load(policy: str, name: str, directory: Path = TEMPLATE_DIR) -> tuple[str, str | None]:
    for folder in (directory / policy, directory / "default"):
        text = folder / f"{name}.txt"
        if text.is_file():
            html = folder / f"{name}.html"
            return text.read_text(encoding="utf-8"), html.read_text(encoding="utf-8") if html.is_file() else None
    raise ConfigError(f"templates: no {name}.txt in {directory / policy} or {directory / 'default'}")
