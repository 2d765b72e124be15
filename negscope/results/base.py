"""`Result`: the base of every stage's typed result, saved as JSON with its kind and schema version inside.

A result is a dataclass whose fields are plain values, lists, string-keyed dicts, optional values or other
dataclasses. `to_dict` writes ``{"kind": ..., "schema": ..., <fields>}``; `from_dict` checks the kind and the
schema version and rebuilds every nested dataclass from the field types, so a file from another stage, or from
an older layout, is refused with an error that names the file and says to rerun the stage.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..io import read_json, write_json

R = TypeVar("R", bound="Result")


class ResultError(ValueError):
    """A result file of the wrong kind or schema; the message names the file and the stage to rerun."""


class Result:
    """Mixin for stage-result dataclasses: `save`/`load` to `<folder>/<filename>`, with kind and schema checked."""

    kind: ClassVar[str]
    filename: ClassVar[str]
    schema: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-able data, its kind and schema first."""
        return {"kind": self.kind, "schema": self.schema, **plain(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "data") -> typing.Self:
        """Rebuild the result from `to_dict` output; a wrong kind or schema is a ResultError."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            found = data.get("kind") if isinstance(data, dict) else type(data).__name__
            raise ResultError(f"{source} holds a {found!r} result, not {cls.kind!r}; point at the {cls.kind} stage's folder")
        if data.get("schema") != cls.schema:
            raise ResultError(
                f"{source} was written with {cls.kind} schema {data.get('schema')}, this negscope reads schema "
                f"{cls.schema}; rerun the {cls.kind} stage to rewrite it"
            )
        try:
            return build(cls, {k: v for k, v in data.items() if k not in ("kind", "schema")})
        except (TypeError, KeyError, ValueError) as err:
            raise ResultError(f"{source} is not a valid {cls.kind} result ({err}); rerun the {cls.kind} stage") from None

    def save(self, folder: str | Path) -> Path:
        """Write the result atomically to `folder/filename` and return that path."""
        return write_json(Path(folder) / self.filename, self.to_dict())

    @classmethod
    def path(cls, folder: str | Path) -> Path:
        """Where the result of this kind lives inside `folder`."""
        return Path(folder) / cls.filename

    @classmethod
    def load(cls, folder: str | Path) -> typing.Self:
        """Read the result from `folder` (or from the file itself)."""
        path = Path(folder)
        path = path if path.suffix == ".json" else cls.path(path)
        return cls.from_dict(read_json(path), str(path))


def plain(value: Any) -> Any:
    """`value` with dataclasses, tuples, NumPy arrays and scalars turned into JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def build(hint: Any, value: Any) -> Any:
    """`value` (plain JSON data) as an instance of type `hint`, nested dataclasses included."""
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise TypeError(f"{hint.__name__} needs an object, not {type(value).__name__}")
        hints = typing.get_type_hints(hint)
        names = {f.name for f in dataclasses.fields(hint) if f.init}
        unknown = set(value) - names
        if unknown:
            raise KeyError(f"{hint.__name__} has no field {min(unknown)!r}")
        return hint(**{k: build(hints[k], v) for k, v in value.items()})
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return build(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        return [build(args[0], v) for v in value]
    if origin is dict:
        return {k: build(args[1], v) for k, v in value.items()}
    if origin is tuple:
        return tuple(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value
