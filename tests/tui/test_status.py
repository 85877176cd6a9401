"""The status line's words: the countdown to the next try, what the server lacks, and no token in full."""

from __future__ import annotations

from softphone.tui.widgets.status import Status, retry_words, status_text


def test_the_countdown_rounds_up_and_never_says_zero_before_trying() -> None:
    assert [retry_words(10.0, now) for now in (7.0, 7.5, 9.2, 10.0, 11.0)] == [
        "retrying in 3s", "retrying in 3s", "retrying in 1s", "retrying now", "retrying now",
    ]  # fmt: skip
    assert retry_words(None, 7.0) == ""


def test_the_line_says_what_the_server_lacks_and_cuts_tokens() -> None:
    status = Status(
        "user 20002", "tui-1", "http://127.0.0.1:8765/?token=secret-token", "unreachable",
        "the server does not answer", retry_at=12.0, missing="no push, no directory",
    )  # fmt: skip
    text = status_text(status, now=10.0).plain
    assert text == (
        "user 20002 · tui-1 · http://127.0.0.1:8765/?token=secr… · ✕ unreachable · "
        "retrying in 2s · no push, no directory (the server does not answer)"
    )


def test_a_narrow_line_keeps_the_connection_and_leaves_out_where() -> None:
    status = Status("Bob (bob #20002)", "bob-n", "http://127.0.0.1:8765", "unreachable", retry_at=12.0)
    assert status_text(status, now=10.0, compact=True).plain == "Bob (bob #20002) · ✕ unreachable · retrying in 2s"
