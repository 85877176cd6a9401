"""Every failure in words: a sentence for the request and peer at hand, then the server's code and message."""

from __future__ import annotations

import pytest

from softphone.api import (
    Action,
    AnsweredElsewhere,
    CallAlreadyEnded,
    CalleeBusy,
    CallNotFound,
    CallStateConflict,
    NotParticipant,
    ServerUnreachable,
    ServiceUnavailable,
    SoftphoneError,
    error_for,
)
from softphone.core import failure_sentence, failure_text


@pytest.mark.parametrize(
    ("error", "action", "expected"),
    [
        (CalleeBusy(), None, "Bob is busy on another call (41003 对方忙线)"),
        (NotParticipant.relationship(), None, "You cannot call Bob: no shared conversation, or not allowed (41010 权限或关系校验失败)"),
        (NotParticipant(), Action.HANGUP, "You are not a participant of this call (41010 非参与方)"),
        (CallStateConflict(), None, "You are already in a call (41002 通话状态不允许此操作)"),
        (CallStateConflict(), Action.CANCEL, "Bob already answered: hang up instead (41002 通话状态不允许此操作)"),
        (CallStateConflict(), Action.HANGUP, "The call has not been answered yet: cancel or decline it instead (41002 通话状态不允许此操作)"),
        (CallStateConflict(), Action.REPORT_MEDIA, "The call's state does not allow this now (41002 通话状态不允许此操作)"),
        (AnsweredElsewhere(), Action.ACCEPT, "This call was answered on another terminal (41006 已被其他终端接听)"),
        (CallAlreadyEnded(), Action.HANGUP, "This call is already over (41007 通话已结束)"),
        (CallNotFound(), Action.STATE, "The server has no such call (41001 通话不存在)"),
        (ServiceUnavailable(), Action.ACCEPT, "The server is unavailable for a moment: nothing was changed, try again (50300 服务暂不可用)"),
        (error_for(41099, "新错误"), Action.REJECT, "Could not decline (41099 新错误)"),
        (ServerUnreachable("POST http://x/api: refused"), Action.HANGUP, "Could not hang up: the server cannot be reached"),
        (ServerUnreachable("refused"), None, "Could not call Bob: the server cannot be reached"),
    ],
)
def test_failure_text(error: SoftphoneError, action: Action | None, expected: str) -> None:
    assert failure_text(error, action, "Bob") == expected


def test_busy_while_the_peer_calls_me_is_glare() -> None:
    assert failure_text(CalleeBusy(), None, "Bob", crossing=True) == "Bob is calling you at the same time (41003 对方忙线)"


def test_the_servers_own_message_is_kept_as_sent() -> None:
    assert failure_text(error_for(41003, "对方正在通话中"), None, "Carol") == "Carol is busy on another call (41003 对方正在通话中)"
    assert failure_sentence(error_for(41003, "x"), None, "Carol") == "Carol is busy on another call"
