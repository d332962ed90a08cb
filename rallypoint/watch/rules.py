"""Alert rules: which changes to a tracked cluster are worth telling an analyst about.

The rules come from a TOML file (``--rules FILE``) laid over the shipped defaults
(``default_rules.toml`` beside this module), read and validated once into
:class:`Rules`. The rule kinds are listed once, in :data:`RULE_KINDS`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rallypoint.errors import InputError

__all__ = ["DEFAULT_RULES_FILE", "RULE_KINDS", "Rules", "load_rules"]

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.toml")

#: Each rule kind and its numeric settings (name -> (type, lowest allowed value)).
RULE_KINDS: dict[str, dict[str, tuple[type, float]]] = {
    "flagged": {},
    "growth": {"min_joined": (int, 1), "min_growth": (float, 0.0)},
    "burst": {"min_level": (int, 1)},
    "new_date_place": {},
    "date_near": {"days": (int, 0)},
    "high_profile": {},
}


@dataclass(frozen=True)
class Rules:
    """The enabled rules and their settings, and where an alert's link points."""

    dashboard_url: str
    settings: dict[str, dict[str, Any]]  # enabled rule kind -> its numbers

    def enabled(self, kind: str) -> bool:
        return kind in self.settings

    def __getitem__(self, kind: str) -> dict[str, Any]:
        return self.settings[kind]

    def cluster_link(self, run_id: str, cluster_id: str) -> str:
        return f"{self.dashboard_url.rstrip('/')}/cluster?run={run_id}&cluster={cluster_id}"


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the rules file {path}: {exc.strerror or exc}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"The rules file {path} is not valid TOML: {exc}.") from None


def load_rules(path: str | Path | None = None) -> Rules:
    """The shipped defaults, with ``path``'s settings laid over them; one clear error if invalid."""
    merged = _read(DEFAULT_RULES_FILE)
    if path is not None:
        user = _read(Path(path))
        unknown = set(user) - {"dashboard_url", "rules"}
        if unknown:
            raise InputError(f"The rules file {path} has unknown setting(s): {', '.join(sorted(unknown))}.")
        merged["dashboard_url"] = user.get("dashboard_url", merged["dashboard_url"])
        for kind, values in (user.get("rules") or {}).items():
            if kind not in RULE_KINDS:
                raise InputError(f"The rules file {path} names an unknown rule {kind!r}; "
                                 f"the rules are {', '.join(RULE_KINDS)}.")
            if not isinstance(values, dict):
                raise InputError(f"In the rules file {path}, [rules.{kind}] must be a table.")
            merged["rules"][kind] = merged["rules"].get(kind, {}) | values
    url = merged.get("dashboard_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InputError(f"dashboard_url must be an http(s) address, not {url!r}.")
    settings: dict[str, dict[str, Any]] = {}
    for kind, numbers in RULE_KINDS.items():
        values = merged["rules"].get(kind, {})
        enabled = values.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InputError(f"rules.{kind}.enabled must be true or false, not {enabled!r}.")
        extra = set(values) - set(numbers) - {"enabled"}
        if extra:
            raise InputError(f"rules.{kind} has unknown setting(s): {', '.join(sorted(extra))}.")
        if not enabled:
            continue
        checked = {}
        for name, (kind_type, lowest) in numbers.items():
            value = values.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or (kind_type is int and not isinstance(value, int)):
                raise InputError(f"rules.{kind}.{name} must be a{'n integer' if kind_type is int else ' number'}, "
                                 f"not {value!r}.")
            if value < lowest:
                raise InputError(f"rules.{kind}.{name} must be at least {lowest}, not {value}.")
            checked[name] = kind_type(value)
        settings[kind] = checked
    return Rules(dashboard_url=url, settings=settings)
