"""Message catalogues per language: page texts, greetings and date formats."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

FEMALE = {"frau", "fr.", "mrs", "mrs.", "ms", "ms.", "miss", "madame", "mme", "mme.", "mlle", "f"}
MALE = {"herr", "hr.", "mr", "mr.", "monsieur", "m.", "m", "mister"}


@dataclass(frozen=True)
class Catalogue:
    """The texts of one language; `t` formats one entry with named values."""

    lang: str
    entries: dict[str, Any]

    def t(self, key: str, **values: Any) -> str:
        node: Any = self.entries
        for part in key.split("."):
            node = node[part]
        return str(node).format(**values) if values else str(node)

    def has(self, key: str) -> bool:
        node: Any = self.entries
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def longdate(self, moment: datetime) -> str:
        return self.t("longdate", **self._parts(moment))

    def shortdate(self, moment: datetime) -> str:
        return self.t("shortdate", **self._parts(moment))

    def time(self, moment: datetime) -> str:
        return self.t("time", **self._parts(moment))

    def _parts(self, moment: datetime) -> dict[str, Any]:
        return {
            "weekday": self.entries["weekdays"][moment.weekday()],
            "day": moment.day, "month": self.entries["months"][moment.month - 1],
            "day_ordinal": (self.entries.get("first_day", "1") if moment.day == 1
                            else str(moment.day)),
            "month_short": self.entries["months_short"][moment.month - 1],
            "month_number": moment.month, "year": moment.year,
            "hour": moment.hour, "minute": moment.minute,
        }

    def greeting(self, salutation: str, title: str, first_name: str, last_name: str) -> str:
        """Return the formal address line, e.g. 'Sehr geehrte Frau Dr. Schmidt,'."""
        kind = salutation.strip().casefold()
        gender = "female" if kind in FEMALE else "male" if kind in MALE else ""
        title_part = f"{title.strip()} " if title.strip() else ""
        if not last_name.strip():
            return self.t("greeting.unknown")
        if title_part and self.has("greeting.titled"):
            key = "greeting.titled"
        elif gender:
            key = f"greeting.{gender}"
        else:
            key = "greeting.neutral"
        text = self.t(key, title=title_part, first_name=first_name.strip(),
                      last_name=last_name.strip())
        return " ".join(text.split())


@cache
def catalogue(lang: str) -> Catalogue:
    """Load the shipped catalogue for `lang` (de, fr or en)."""
    data = files("templates").joinpath("messages", f"{lang}.toml").read_text(encoding="utf-8")
    return Catalogue(lang=lang, entries=tomllib.loads(data))
