"""One way to tell a user what is wrong with a file they wrote: pydantic's error, as one line.

Every file a user owns (a profile, a module's front matter, an assignment.yaml, the app's
config.yaml) is validated by a pydantic model; `invalid_file` turns the model's ValidationError
into a UserError naming the file, the field path (`quiz[0].options[2].text`) and the problem in
plain words, with the hints YAML needs (an unquoted yes is a boolean, an unquoted ': ' a mapping).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from datasets.errors import UserError

MAX_SHOWN = 70  # characters of a wrong value quoted back


class InvalidFile(UserError):
    """A user's file failed validation: `path` is the file, `problem` the field path and what is wrong."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


E = TypeVar("E", bound=InvalidFile)


def field_path(loc: Sequence[int | str]) -> str:
    """('quiz', 0, 'answer') -> 'quiz[0].answer'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def _ids_along(data: Any, loc: Sequence[int | str]) -> str:
    """The innermost `id` on the way to the failing field, so an author finds the entry by name."""
    found = None
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, Mapping) and isinstance(node.get("id"), str | int) and not isinstance(node.get("id"), bool):
            found = node["id"]
    return f" (id '{found}')" if found is not None else ""


def _problem(error: Mapping[str, Any]) -> tuple[tuple[int | str, ...], str]:
    """(where, what) of one pydantic error, in the words an author of a YAML file understands."""
    loc = tuple(part for part in error["loc"] if part != "__root__")
    kind = error["type"]
    if loc and loc[-1] == "[key]":  # a mapping's key, not its value, is wrong: name the mapping
        loc, key_problem = loc[:-2], True
    else:
        key_problem = False
    value = error.get("input")
    message = str(error["msg"])
    if kind == "missing":
        return loc[:-1], f"missing required field '{loc[-1]}'"
    if kind == "extra_forbidden":  # models list the allowed names themselves; this is the fallback
        return loc[:-1], f"unknown field '{loc[-1]}'"
    if kind in ("string_type", "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "list_type", "tuple_type", "dict_type", "model_type",
                "dataclass_type", "model_attributes_type", "dataclass_exact_type"):
        if isinstance(value, bool):
            return loc, "must be text (quote yes/no/true/false: YAML reads them as booleans)" \
                if kind == "string_type" else f"must not be {str(value).lower()} (a YAML boolean)"
        if kind == "string_type" and isinstance(value, Mapping):
            return loc, "must be text (quote it: an unquoted ': ' makes YAML read a mapping)"
        wanted = {"string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
                  "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
                  "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping"}.get(kind, "a mapping of fields")
        return loc, f"must be {wanted}, not {_shown(value)}"
    if kind == "string_too_short" and isinstance(value, str) and not value.strip():
        return loc, "is empty"
    if kind == "too_short":
        least = (error.get("ctx") or {}).get("min_length", 1)
        return loc, f"must have at least {least} entr{'y' if least == 1 else 'ies'}"
    if kind in ("value_error", "assertion_error"):
        message = message.split(", ", 1)[1] if ", " in message else message
        return loc, message
    if kind == "literal_error":
        expected = str((error.get("ctx") or {}).get("expected", "")).replace("'", "")
        name = "key" if key_problem else str(loc[-1]) if loc and isinstance(loc[-1], str) else "value"
        return loc, f"unknown {name} {_shown(value)} (known: {expected.replace(' or ', ', ')})"
    if message.startswith("Input should be "):
        message = "must be " + message[len("Input should be "):]
    elif message.startswith("Input "):
        message = message[len("Input "):]
    shown = f", not {_shown(value)}" if isinstance(value, str | int | float | bool) or value is None else ""
    return loc, f"{message[0].lower()}{message[1:]}{shown}"


def describe(exc: ValidationError, data: Any = None, context: str = "") -> str:
    """The first problem as one line: "field 'quiz[0].answer' (id 'proxy'): ..." (+ how many more)."""
    errors = exc.errors()
    loc, what = _problem(errors[0])
    where = field_path(loc)
    place = f"field '{where}'{_ids_along(data, loc)}" if where else ""
    if context:
        place = f"{context}: {place}" if place else context
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return " ".join(f"{place + ': ' if place else ''}{what}{more}".split())


def invalid_file(path: Path | str, exc: ValidationError, error_class: type[E] = InvalidFile,  # type: ignore[assignment]
                 data: Any = None, context: str = "") -> E:
    """The UserError to raise for `path` whose contents (`data`) failed validation with `exc`."""
    return error_class(path, describe(exc, data, context))


# ------------------------------------------------------------------------- bases for the models

# Every model of a user's file: misspelt fields are refused, text is trimmed, a number where text
# is expected is read as its text (`- 42` as an option), and nan/inf are never numbers.
STRICT_FILE = ConfigDict(extra="forbid", coerce_numbers_to_str=True, str_strip_whitespace=True,
                         allow_inf_nan=False)


def _refuse_unknown_fields(cls: type, data: Any, allowed: Iterable[str]) -> Any:
    if isinstance(data, Mapping):
        names = sorted(set(allowed))
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(names)})")
    return data


@pydantic_dataclass(frozen=True, config=STRICT_FILE)
class FileRecord:
    """Base of the frozen dataclasses read from a user's file: an unknown field is named with
    the fields allowed, so a typo (`explian:`) is found at once."""

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        return _refuse_unknown_fields(cls, data, (f.name for f in dataclasses.fields(cls)))


class FileModel(BaseModel):
    """Base of the pydantic models read from a user's file (same rules as FileRecord)."""

    model_config = ConfigDict(**{**STRICT_FILE, "frozen": True})

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        return _refuse_unknown_fields(cls, data, cls.model_fields)


def file_record(cls: type) -> type:
    """Decorator: a frozen pydantic dataclass with the rules of a user's file (subclass FileRecord)."""
    return pydantic_dataclass(frozen=True, config=STRICT_FILE)(cls)
