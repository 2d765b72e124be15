"""Settings declared once: dataclass fields that carry their help, choices and range.

A config dataclass is written with `setting(...)` fields. The same declaration then serves three readers:
`from_dict` builds and checks it from a TOML table, `add_arguments` turns it into command-line flags, and
`from_args` builds it back from parsed flags through `from_dict`, so a flag and a config key are checked alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A config file or value that cannot be used; the message names the key and the fix."""


def setting(default: Any, help: str, *, choices: Iterable[Any] | None = None, low: float | None = None,
            high: float | None = None, factory: Any = None) -> Any:
    """A dataclass field with its help text, allowed values and range (`low`/`high` inclusive)."""
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "low": low, "high": high}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def from_dict(cls: type, raw: dict[str, Any], section: str = "") -> Any:
    """Build dataclass `cls` from `raw`, rejecting unknown keys, wrong types, unknown choices and values out of range."""
    where = f"[{section}]" if section else "the top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{section!r} must be a table ([{section}]), not {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"unknown key {key!r} in {where}{nearest(key, fields)}; valid keys: {', '.join(fields)}")
        name = f"{section}.{key}" if section else key
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = from_dict(hint, value, name)
        else:
            values[key] = _check_meta(name, _check_type(name, value, hint), fields[key].metadata)
    return cls(**values)


def add_arguments(parser: argparse.ArgumentParser, cls: type, skip: Iterable[str] = ()) -> None:
    """Add one `--flag` per setting of dataclass `cls` (defaults, help and choices from the declaration)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or dataclasses.is_dataclass(hints[f.name]):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        help_text = f"{f.metadata.get('help', '')} (default: {default})".replace("%", "%%")
        hint = hints[f.name]
        if hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
            continue
        options = [o for o in (typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)) if o is not type(None)]
        if typing.get_origin(options[0]) is list:
            parser.add_argument(flag, action="append", type=typing.get_args(options[0])[0], default=None, help=help_text)
            continue
        parser.add_argument(flag, type=options[0], default=default, choices=f.metadata.get("choices"), help=help_text)


def from_args(cls: type, args: argparse.Namespace, **given: Any) -> Any:
    """Build dataclass `cls` from parsed flags (and `given` values), checked like a config file."""
    names = {f.name for f in dataclasses.fields(cls)}
    raw = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return from_dict(cls, {**raw, **given})


def nearest(key: str, valid: Iterable[str]) -> str:
    """'; did you mean X?' for the valid name closest to `key`, or ''."""
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_meta(name: str, value: Any, meta: typing.Mapping[str, Any]) -> Any:
    choices, low, high = meta.get("choices"), meta.get("low"), meta.get("high")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if item is None:
            continue
        if choices is not None and item not in choices:
            raise ConfigError(f"{name} is {item!r}{nearest(str(item), map(str, choices))}; choose one of {', '.join(map(str, choices))}")
        if (low is not None and item < low) or (high is not None and item > high):
            bounds = f"at least {low}" if high is None else f"at most {high}" if low is None else f"between {low} and {high}"
            raise ConfigError(f"{name} is {item!r}; it must be {bounds}")
    return value


def _check_type(name: str, value: Any, hint: Any) -> Any:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return value
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is str and isinstance(value, str):
            return value
        if typing.get_origin(option) is list and isinstance(value, list):
            (item,) = typing.get_args(option)
            return [_check_type(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    wanted = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"{name} must be {wanted}, not {type(value).__name__} ({value!r}); fix its value")
