"""Lay a user's config mapping over a config dataclass, strictly.

Unknown keys are rejected by their path (with the nearest known key suggested),
values are checked against the field types, and every problem is collected
rather than stopping at the first, like the Collector's ``mapstructure`` decode
followed by ``Validate()``.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

__all__ = ["EnvText", "decode"]

T = TypeVar("T")

_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


class EnvText(str):
    """A value that was exactly one ``${env:VAR}``: text that a typed setting parses."""


def decode(cls: type[T], data: Any, path: str, problems: list[str]) -> T:
    """Return ``cls`` built from its defaults with ``data`` laid over them.

    Problems are appended to ``problems`` as ``path::key: message`` lines; the
    returned object then holds defaults where the user's value was wrong.
    """
    default = cls()
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        problems.append(f"{path}: expected a mapping of settings, got {_describe(data)}")
        return default
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    # validate() judges the settings together; after a misspelt key (perhaps the very
    # setting it would call missing) or a nested section that did not decode (now
    # its defaults), that judgement would be about settings the user never wrote.
    judge = True
    for key, value in data.items():
        key_path = f"{path}::{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            known = ", ".join(sorted(fields))
            problems.append(f"{key_path}: unknown key{hint} (valid keys: {known})")
            judge = False
            continue
        before = len(problems)
        values[key] = _convert(hints[key], value, key_path, problems, getattr(default, key))
        if len(problems) > before and _is_section(hints[key]):
            judge = False
    result = dataclasses.replace(default, **values)  # type: ignore[type-var]
    validate = getattr(result, "validate", None)
    if callable(validate) and judge:
        problems.extend(f"{path}::{line}" for line in validate())
    return result


def _is_section(hint: Any) -> bool:
    """Whether a field holds nested settings (a dataclass, optional or not)."""
    inner = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return any(dataclasses.is_dataclass(a) for a in inner)


def _convert(hint: Any, value: Any, path: str, problems: list[str], fallback: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        # An optional section written with no value (``http:``) is enabled with its
        # defaults, as in the Collector; only an absent key leaves the field's None.
        if value is None and not (len(inner) == 1 and dataclasses.is_dataclass(inner[0])):
            return None
        if len(inner) == 1:
            return _convert(inner[0], value, path, problems, fallback)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return decode(hint, value, path, problems)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            problems.append(f"{path}: expected a list, got {_describe(value)}")
            return fallback
        item = args[0] if args else Any
        items = [_convert(item, v, f"{path}[{i}]", problems, None) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            problems.append(f"{path}: expected a mapping, got {_describe(value)}")
            return fallback
        return dict(value)
    if hint is Any:
        return value
    if isinstance(value, EnvText) and hint in (int, float, bool):
        value = _parse_env_scalar(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, EnvText):
        return str(value)
    if hint in _TYPE_WORDS:
        if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
            return value
        problems.append(f"{path}: expected {_TYPE_WORDS[hint]}, got {_describe(value)}")
        return fallback
    return value


def _parse_env_scalar(text: str) -> Any:
    """Parse an environment value for a numeric or boolean setting, as YAML 1.2 core would."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for parse in (int, float):
        try:
            return parse(text.strip())
        except ValueError:
            continue
    return text


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    name = "str" if isinstance(value, str) else type(value).__name__
    return f"{name} {str(value)!r}" if isinstance(value, str) else f"{name} {value!r}"
