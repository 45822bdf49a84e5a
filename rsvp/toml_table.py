"""Read one TOML table of event.toml, remembering which keys were used, so that a typo or
a wrong type is reported with the file and the key."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from rsvp.errors import ConfigError

LANGUAGES = ("de", "fr", "en")

LocalText = dict[str, str]


class TomlTable:
    """One TOML table being read; remembers which keys were used to flag the rest."""

    def __init__(self, data: dict[str, Any], where: str, path: Path) -> None:
        self.data = data
        self.where = where
        self.path = path
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> ConfigError:
        name = f"{self.where}.{key}" if self.where else key
        return ConfigError(
            f"{self.path}: '{name}' {problem}",
            hint="Compare with the example: `invite init /tmp/example` writes one.",
        )

    def get(self, key: str, kind: type | tuple[type, ...], required: bool = True,
            default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(key, f"must be a {names}, not {value!r}")
        return value

    def sub(self, key: str, required: bool = True) -> TomlTable:
        value = self.get(key, dict, required, {})
        return TomlTable(value, f"{self.where}.{key}" if self.where else key, self.path)

    def text(self, key: str, languages: tuple[str, ...], required: bool = True) -> LocalText:
        value = self.get(key, (str, dict), required, {})
        if isinstance(value, str):
            return {lang: value for lang in languages}
        for lang, text in value.items():
            if lang not in LANGUAGES:
                raise self.fail(f"{key}.{lang}", f"is not a supported language ({', '.join(LANGUAGES)})")
            if not isinstance(text, str):
                raise self.fail(f"{key}.{lang}", "must be text")
        return dict(value)

    def moment(self, key: str, required: bool = True) -> datetime | None:
        value = self.get(key, (datetime, date), required)
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self.fail(key, f"must be a date-time with UTC offset, like 2027-03-26T18:00:00+01:00, not {value}")
        return value

    def entries(self, key: str, shape: str) -> list[TomlTable]:
        """The tables of the array `key` ([[key]]), each named by its place for errors;
        an entry that is no table is refused, `shape` saying what it should be."""
        items = self.get(key, list, False, [])
        where = f"{self.where}.{key}" if self.where else key
        found = []
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise self.fail(key, f"entry {index} must be {shape}")
            found.append(TomlTable(item, f"{where}[{index}]", self.path))
        return found

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting (a typo?)")
