"""Command-line flags generated from the settings dataclasses (ModelConfig, PipelineConfig): one
flag per field carrying `setting()` metadata (models/hparams.py), with the field's type, help,
choices and default, so that a setting and its flag cannot drift apart."""
from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from typing import Any, Callable, Iterable, Optional, Union


def _value_type(hint: Any) -> type:
    """The type a flag's text converts to: Optional[X] -> X; a tuple -> str (comma-separated,
    converted by the dataclass)."""
    if typing.get_origin(hint) is Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        return str
    return hint


def _shown(default: Any) -> Optional[str]:
    if default is None or default == "":
        return None
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default) or None
    return f"{default:g}" if isinstance(default, float) else str(default)


def flag_fields(cls: type, names: Optional[Iterable[str]] = None, exclude: Iterable[str] = ()
                ) -> list[dataclasses.Field]:
    """The fields of `cls` that have a flag, in declaration order (`names` restricts them)."""
    wanted = None if names is None else set(names)
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata and f.name not in exclude
            and (wanted is None or f.name in wanted)]


def add_flags(group: argparse._ActionsContainer, cls: type, names: Optional[Iterable[str]] = None,
              exclude: Iterable[str] = ()) -> None:
    """One flag per field (default None: the dataclass's own default applies when it is not given)."""
    hints = typing.get_type_hints(cls)
    for f in flag_fields(cls, names, exclude):
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        kind = _value_type(hints[f.name])
        shown = _shown(f.default)
        text = f.metadata["help"] + (f" (default: {shown})" if shown is not None and kind is not bool else "")
        if kind is bool:
            group.add_argument(flag, dest=f.name, action="store_true", default=None, help=text)
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=None, choices=f.metadata.get("choices"),
                               help=text)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The settings of `cls` given on the command line."""
    return {f.name: getattr(args, f.name) for f in flag_fields(cls) if getattr(args, f.name, None) is not None}


def _bounded(kind: type, low: float, inclusive: bool) -> Callable[[str], Any]:
    """An argparse type: `kind` at least (or above) `low`, and finite."""
    def convert(text: str):
        value = kind(text)
        if not (value >= low if inclusive else value > low) or (isinstance(value, float) and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>=' if inclusive else '>'} {low:g}, got {text}")
        return value
    convert.__name__ = kind.__name__
    return convert


def positive(kind: type) -> Callable[[str], Any]:
    return _bounded(kind, 0, inclusive=False)


def at_least_zero(kind: type) -> Callable[[str], Any]:
    return _bounded(kind, 0, inclusive=True)
