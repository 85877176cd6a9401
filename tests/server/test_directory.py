"""The simulator's directory: who a dev login may name."""

from __future__ import annotations

from softphone.server.directory import Directory, User


def test_a_login_may_use_the_display_name_the_phone_shows() -> None:
    directory = Directory.load()
    alice = directory.find("alice")
    assert alice is not None
    assert directory.find("Alice") == directory.find(alice.user_id) == directory.find(str(alice.user_id)) == alice
    assert directory.find("ALICE") is None and directory.find("nobody") is None


def test_a_display_name_two_users_share_or_that_is_a_name_finds_nobody_by_it() -> None:
    directory = Directory([User(1, "sam", "Sam"), User(2, "samantha", "Sam"), User(3, "Bo", "x"), User(4, "bob", "Bo")])
    assert directory.find("Sam") is None
    assert directory.find("Bo") == User(3, "Bo", "x"), "a name wins over someone else's display name"
    assert directory.login_names() == ["sam", "samantha", "Bo", "bob", "x"]
