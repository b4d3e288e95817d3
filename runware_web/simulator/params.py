"""Typed reading and validation of task parameters, producing Runware-style errors
(`invalid<Param>` / `missing<Param>`) whose `parameter` is the full path, e.g.
`settings.maxTokens` or `lora[0].weight`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .errors import invalid, missing


class Reader:
    """A view over one JSON object of a task (the task itself or a nested object).

    Getters return `default` when the key is absent or null; a default of `...` makes
    the parameter required (`missing<Param>` when absent).
    """

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def _absent(self, name: str, default: Any) -> Any:
        if default is ...:
            raise missing(self.path(name))
        return default

    def int(
        self, name: str, low: int, high: int, default: Any = None, *, multiple_of: int | None = None
    ) -> Any:
        """An integer in [low, high] (and a multiple of `multiple_of`), or `default` when absent."""
        value = self.data.get(name)
        if value is None:
            return self._absent(name, default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(self.path(name), f"'{self.path(name)}' must be an integer.")
        if not low <= value <= high:
            raise invalid(
                self.path(name), f"'{self.path(name)}' must be between {low} and {high}, got {value}."
            )
        if multiple_of and value % multiple_of:
            raise invalid(
                self.path(name), f"'{self.path(name)}' must be a multiple of {multiple_of}, got {value}."
            )
        return value

    def number(self, name: str, low: float, high: float, default: Any = None) -> Any:
        value = self.data.get(name)
        if value is None:
            return self._absent(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(self.path(name), f"'{self.path(name)}' must be a number.")
        if not low <= value <= high:
            raise invalid(
                self.path(name), f"'{self.path(name)}' must be between {low:g} and {high:g}, got {value}."
            )
        return float(value)

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(self.path(name), f"'{self.path(name)}' must be a boolean.")
        return value

    def str(
        self,
        name: str,
        default: Any = None,
        *,
        min_length: int = 0,
        max_length: int | None = None,
        choices: Collection[str] | None = None,
    ) -> Any:
        value = self.data.get(name)
        if value is None:
            return self._absent(name, default)
        if not isinstance(value, str):
            raise invalid(self.path(name), f"'{self.path(name)}' must be a string.")
        if len(value) < min_length or (max_length is not None and len(value) > max_length):
            bounds = f"{min_length}–{max_length}" if max_length is not None else f"at least {min_length}"
            raise invalid(self.path(name), f"'{self.path(name)}' must be {bounds} characters long.")
        if choices is not None and value not in choices:
            raise invalid(
                self.path(name), f"'{self.path(name)}' must be one of {sorted(choices)}, got {value!r}."
            )
        return value

    def choice(self, name: str, choices: Collection[str], default: Any = None) -> Any:
        """A case-insensitive enum value, returned in its canonical spelling from `choices`."""
        value = self.str(name, default)
        if value is None or value in choices:
            return value
        for choice in choices:
            if choice.lower() == value.lower():
                return choice
        raise invalid(
            self.path(name), f"'{self.path(name)}' must be one of {sorted(choices)}, got {value!r}."
        )

    def obj(self, name: str) -> Reader | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(self.path(name), f"'{self.path(name)}' must be an object.")
        return Reader(value, self.path(name))

    def objects(self, name: str, max_items: int) -> list[Reader]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > max_items:
            raise invalid(
                self.path(name), f"'{self.path(name)}' must be an array of at most {max_items} objects."
            )
        readers = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise invalid(self.path(name), f"'{self.path(name)}[{index}]' must be an object.")
            readers.append(Reader(item, f"{self.path(name)}[{index}]"))
        return readers


class _Layered(Reader):
    """Keys of `inner` shadow those of `outer`; error paths name where a value really was."""

    def __init__(self, outer: Reader, inner: Reader) -> None:
        super().__init__({**outer.data, **inner.data}, outer.prefix)
        self._inner = inner

    def path(self, name: str) -> str:
        return self._inner.path(name) if name in self._inner.data else super().path(name)


def merged(task: Reader, nested: str) -> Reader:
    """Options that the current schema nests in `settings` but legacy tasks pass at the top level."""
    inner = task.obj(nested)
    return task if inner is None else _Layered(task, inner)
