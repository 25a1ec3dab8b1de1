"""Loads policy profiles from config/policies/*.toml (the I/O side of bot.core.policy)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from .core.errors import ConfigError
from .core.policy import Policy

DEFAULT_POLICY = "hos-code-2024"
POLICY_DIR = Path(__file__).resolve().parent.parent / "config" / "policies"


def available(directory: Path = POLICY_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


@lru_cache(maxsize=32)
def load(name: str, directory: Path = POLICY_DIR) -> Policy:
    """The profile `name`; reasons it does not mention take the Code's handling."""
    path = directory / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"policy: no profile {name!r} in {directory} (available: {', '.join(available(directory))})")
    data = _read(path)
    if data.get("id") != name:
        raise ConfigError(f"{path}: id must match the file name ({name!r}), got {data.get('id')!r}")
    defaults = None if name == DEFAULT_POLICY else load(DEFAULT_POLICY, directory)
    return Policy.from_mapping(data, defaults=defaults)
