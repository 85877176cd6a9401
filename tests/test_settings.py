"""Resolving the shared sign-in options over the environment and a profile, in-process (fast, every rule)."""

from __future__ import annotations

from pathlib import Path

import pytest

from softphone.api import DirectoryUser, short_token
from softphone.settings import SettingsProblem, SignInOptions, check_server_url, resolve_sign_in

CONFIG = """
profile = "staging"

[profiles.staging]
server = "https://staging.example/"
poll = true

[profiles.staging.users.alice]
token = "alice-token-0123456789"
user_id = 10001
terminal_id = "alice-laptop"

[profiles.staging.users.bob]
user_id = 20002

[profiles.staging.users.carol]
terminal_id = "carol-desk"

[profiles.staging.conversations]
"bob, alice" = 252487239

[profiles.local]
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SOFTPHONE_SERVER", "SOFTPHONE_TOKEN", "SOFTPHONE_USER_ID", "SOFTPHONE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "softphone.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_a_profile_user_signs_in_with_its_token_and_knows_its_contacts(config: Path) -> None:
    signed = resolve_sign_in(SignInOptions(user="alice", config=config))
    assert (signed.server, signed.poll, signed.profile) == ("https://staging.example", True, "staging")
    assert (signed.user, signed.token, signed.user_id, signed.terminal_id) == (
        "alice", "alice-token-0123456789", 10001, "alice-laptop",
    )  # fmt: skip
    assert signed.contacts() == [
        DirectoryUser(user_id=10001, name="alice", display_name="alice", conversation_id=None),
        DirectoryUser(user_id=20002, name="bob", display_name="bob", conversation_id=252487239),
    ]
    assert signed.conversation("alice", "bob") == signed.conversation("bob", "alice") == 252487239
    assert signed.origins["token"] == "profile staging, user alice" and signed.origins["user"] == "--user"


def test_a_user_without_a_profile_token_uses_the_dev_login_and_its_terminal(config: Path) -> None:
    carol = resolve_sign_in(SignInOptions(user="carol", config=config))
    assert (carol.user, carol.token, carol.terminal_id) == ("carol", None, "carol-desk")
    stranger = resolve_sign_in(SignInOptions(user="mallory", config=config, terminal_id="mine"))
    assert (stranger.user, stranger.token, stranger.terminal_id) == ("mallory", None, "mine")
    assert stranger.origins["terminal_id"] == "--terminal-id"


def test_file_then_environment_then_options(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_sign_in(SignInOptions(config=config)).origins["server"] == "profile staging"
    monkeypatch.setenv("SOFTPHONE_SERVER", "http://env.example")
    monkeypatch.setenv("SOFTPHONE_PROFILE", "local")
    from_env = resolve_sign_in(SignInOptions(config=config))
    assert (from_env.server, from_env.profile, from_env.poll) == ("http://env.example", "local", False)
    assert from_env.origins["profile"] == "SOFTPHONE_PROFILE"
    options = SignInOptions(config=config, server="http://option.example", profile="staging", poll=False)
    from_options = resolve_sign_in(options)
    assert (from_options.server, from_options.profile, from_options.poll) == ("http://option.example", "staging", False)
    assert from_options.origins["poll"] == "--no-poll"


def test_a_token_and_its_user_id_come_from_one_layer(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTPHONE_TOKEN", "alice-token-0123456789")
    monkeypatch.setenv("SOFTPHONE_USER_ID", "10001")
    from_env = resolve_sign_in(SignInOptions(config=config))
    assert (from_env.token, from_env.user_id, from_env.alias) == ("alice-token-0123456789", 10001, "alice")
    option = resolve_sign_in(SignInOptions(config=config, token="other-token"))
    assert (option.token, option.user_id) == ("other-token", None)  # SOFTPHONE_USER_ID was the other token's
    by_name = resolve_sign_in(SignInOptions(config=config, user="bob"))
    assert (by_name.user, by_name.token) == ("bob", None)  # --user takes over from SOFTPHONE_TOKEN


def test_the_default_config_file_is_read_when_it_exists(tmp_path: Path) -> None:
    assert resolve_sign_in(SignInOptions()).config_file is None
    default = tmp_path / "config-home" / "softphone" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text(CONFIG, encoding="utf-8")
    signed = resolve_sign_in(SignInOptions())
    assert (signed.config_file, signed.profile) == (default, "staging")


@pytest.mark.parametrize(
    ("url", "checked"),
    [("http://127.0.0.1:8765", "http://127.0.0.1:8765"), ("https://api.example/v1/", "https://api.example/v1")],
)
def test_a_server_url_is_http_or_https_with_a_host(url: str, checked: str) -> None:
    assert check_server_url(url, "--server") == checked


@pytest.mark.parametrize("url", ["ftp://x", "example.com", "http://", "http://host:port", "https:///path"])
def test_a_bad_server_url_names_its_source(url: str) -> None:
    with pytest.raises(SettingsProblem, match="^SOFTPHONE_SERVER: .* is not an http:// or https:// URL with a host$"):
        check_server_url(url, "SOFTPHONE_SERVER")


def test_a_token_is_redacted_to_a_prefix_and_its_length() -> None:
    assert short_token("abcdefghijklmnopqrstuvwxyz") == "abcd…"
    assert short_token("short") == "…"


def test_the_options_given_are_handed_on_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``softphone web`` gives every tab's phone: the options given, the config file as an absolute path."""
    monkeypatch.chdir(tmp_path)
    options = SignInOptions(server="http://127.0.0.1:1", token="t0k", user_id=7, poll=False, config=Path("x.toml"))
    assert options.arguments() == [
        "--server", "http://127.0.0.1:1", "--token", "t0k", "--user-id", "7", "--no-poll", "--config", str(tmp_path / "x.toml"),
    ]  # fmt: skip
    assert SignInOptions().arguments() == []


@pytest.mark.parametrize(
    "options",
    [
        SignInOptions(),
        SignInOptions(user="alice", server="http://127.0.0.1:1/", terminal_id="t1", poll=True),
        SignInOptions(token="t0k", user_id=7, server="https://api.example"),
        SignInOptions(token="t0k"),
        SignInOptions(user="bob", poll=False),
    ],
)
def test_the_options_alone_resolve_as_the_settings_model_resolves_them(
    options: SignInOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no file and no variable the options skip pydantic-settings (the phone's first paint does not
    wait for it): the same sign-in comes out either way."""
    without_model = resolve_sign_in(options)
    monkeypatch.setattr("softphone.settings.environment_given", lambda: True)
    assert resolve_sign_in(options) == without_model


def test_the_options_alone_name_a_missing_profile_as_the_settings_model_does(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsProblem) as without_model:
        resolve_sign_in(SignInOptions(profile="staging"))
    monkeypatch.setattr("softphone.settings.environment_given", lambda: True)
    with pytest.raises(SettingsProblem) as with_model:
        resolve_sign_in(SignInOptions(profile="staging"))
    assert str(without_model.value) == str(with_model.value)
    assert str(with_model.value).startswith("--profile: no profile 'staging'")


@pytest.mark.parametrize("name", ["SOFTPHONE_SERVER", "softphone_token", "SOFTPHONE_User_Id", "SOFTPHONE_PROFILE"])
def test_a_variable_in_any_case_is_read(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic-settings reads our variables in any case and skips empty ones; so does the check that
    decides whether it is needed."""
    from softphone.settings import environment_given

    monkeypatch.setenv(name, "")
    assert not environment_given()
    monkeypatch.setenv(name, "7")
    assert environment_given()


def test_the_layers_are_the_settings_models_fields() -> None:
    """``Layers`` (read without pydantic when only options are given) names the settings model's fields
    again: a field added to one and not the other fails here."""
    from dataclasses import fields

    from softphone.profiles import Settings
    from softphone.settings import Layers

    assert [layer.name for layer in fields(Layers)] == list(Settings.model_fields)
