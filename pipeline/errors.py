"""A pipeline failure in one line. The project's own errors (unreadable or empty input, too many
rejected rows, data that breaks the schema, a loss that is not finite) keep their message,
whichever Beam or TFX wrapper carries them; any other error is named by its innermost exception."""
from __future__ import annotations

import re

from components.criteo_example_gen.executor import RejectedRowsError, UnreadableInputError
from components.validation_gate.executor import DataValidationError, EmptyInputError
from models.criteo_rows import CorruptFileError, HeaderError
from models.trainer import NonFiniteLossError

# Errors whose first line says what is wrong and what to do.
EXPLAINED = (UnreadableInputError, CorruptFileError, HeaderError, RejectedRowsError, DataValidationError, EmptyInputError,
             NonFiniteLossError, FileNotFoundError)
_BEAM_STEP = re.compile(r" \[while running '[^']*'\]")
_INNERMOST = re.compile(r"^([A-Za-z_.]*(?:Error|Exception)): (.+)$", re.M)


def _first_line(text: str) -> str:
    return _BEAM_STEP.sub("", text.strip().splitlines()[0]) if text.strip() else ""


def describe_error(error: BaseException) -> str:
    """One line: what failed and, for the project's own errors, what to do."""
    text = str(error)
    for kind in EXPLAINED:
        if isinstance(error, kind):
            return _first_line(text)
        found = re.search(rf"\b{kind.__name__}: (.+)", text)
        if found:
            return _first_line(found.group(1))
    innermost = _INNERMOST.findall(text)
    if innermost:
        name, message = innermost[-1]
        return f"{name.rsplit('.', 1)[-1]}: {_first_line(message)} (--verbose shows the traceback)"
    return f"{type(error).__name__}: {_first_line(text)}"
