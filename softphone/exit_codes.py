"""How every ``softphone`` command ends, as a script reads it: named once, the contract of the README.

0 success; 1 an expectation failed; 2 a usage error (a bad option, nothing was run: click's own 2);
3 the server refused (it answered with an error envelope, 5xx included; its code and message are
printed); 4 the server cannot be reached (or what answered is not the call API).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from softphone.api import SoftphoneError


class ExitCode(IntEnum):
    OK = 0
    EXPECTATION_FAILED = 1
    USAGE = 2
    SERVER_REFUSED = 3
    UNREACHABLE = 4


NOT_RUNNING = ExitCode.EXPECTATION_FAILED
"""``softphone sim``: no simulator answers where it looked, or a confirmation was declined."""


def exit_code_for(error: SoftphoneError) -> ExitCode:
    """An error envelope is a refusal; no answer, or an answer that is not an envelope, is "unreachable"."""
    from softphone.api import ApiError

    return ExitCode.SERVER_REFUSED if isinstance(error, ApiError) else ExitCode.UNREACHABLE
