"""Who signs in where: the shared options, the SOFTPHONE_* environment and the profiles file, resolved once.

Every command takes the same sign-in options (``--server``, ``--user``, ``--token``, ``--user-id``,
``--terminal-id``, ``--poll``, ``--profile``, ``--config``). Their values may also come from the
environment (``SOFTPHONE_SERVER``, ``SOFTPHONE_TOKEN``, ``SOFTPHONE_USER_ID``, ``SOFTPHONE_PROFILE``)
or from a profile in a TOML file (the user config directory's ``config.toml``, or ``--config FILE``)::

    profile = "staging"                       # the profile used when none is named

    [profiles.staging]
    server = "https://devapi.example.com"
    poll = true

    [profiles.staging.users.alice]            # --user alice signs in with this token
    token = "..."
    user_id = 10001
    terminal_id = "alice-laptop"

    [profiles.staging.conversations]
    "alice,bob" = 252487239

The precedence is file < environment < options, as in Posting's settings: one pydantic-settings model
(:mod:`softphone.profiles`) whose sources are the options, the environment and the file, in that order,
loaded only when there is a file or a variable to read. :func:`resolve_sign_in`
turns them into a :class:`SignIn`, checked (a bad value is a :class:`SettingsProblem` naming where it
came from), and remembering where each value came from for ``softphone config show``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import platformdirs

from softphone.api import TERMINAL_ID_MAX, short_token

if TYPE_CHECKING:
    from softphone.api import DirectoryUser
    from softphone.profiles import Profile, ProfileUser

ENV_PREFIX = "SOFTPHONE_"
CONFIG_FILE_NAME = "config.toml"
DEFAULT = "default"


class SettingsProblem(ValueError):
    """A setting that cannot be used, in one line that names where it came from."""


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir("softphone")) / CONFIG_FILE_NAME


def pair_of(key: str) -> frozenset[str]:
    return frozenset(part.strip() for part in key.split(",") if part.strip())


# Which keys each source may set: the four documented variables, the file's profiles, every option.
ENVIRONMENT_KEYS = ("server", "token", "user_id", "profile")
FILE_KEYS = ("profile", "profiles")
OPTION_KEYS = ("server", "token", "user_id", "profile")


def _option_name(key: str) -> str:
    return "--" + key.replace("_", "-")


@dataclass(frozen=True)
class SignInOptions:
    """The shared options as typed on the command line; ``None`` where not given."""

    server: str | None = None
    user: str | None = None
    token: str | None = None
    user_id: int | None = None
    terminal_id: str | None = None
    poll: bool | None = None
    profile: str | None = None
    config: Path | None = None

    def given(self) -> list[str]:
        """The options given, as ``--name``, for messages."""
        return [_option_name(name) for name, value in vars(self).items() if value is not None]

    def arguments(self) -> list[str]:
        """The options given, as words for another ``softphone`` process (each tab of ``softphone web``)."""
        words: list[str] = []
        for name, value in vars(self).items():
            if isinstance(value, bool):
                words.append(_option_name(name) if value else f"--no-{name}")
            elif value is not None:
                words += [_option_name(name), str(value.resolve() if isinstance(value, Path) else value)]
        return words


@dataclass(frozen=True)
class SignIn:
    """Who signs in where, resolved and checked; what every command and the TUI start from.

    ``server`` ``None`` means the shared local simulator. With ``token`` the client uses it as it is
    (``user_id`` says who it is on a server without a directory); otherwise ``user`` signs in with the
    simulator's dev login (with a token, ``user`` is only the profile's name for it, if any). ``alias`` is who this is among the profile's ``users``. ``origins`` says
    where each value came from (``--server``, ``SOFTPHONE_TOKEN``, ``profile staging``, ``default``).
    """

    server: str | None = None
    user: str | None = None
    token: str | None = None
    user_id: int | None = None
    terminal_id: str | None = None
    poll: bool = False
    profile: str | None = None
    alias: str | None = None
    users: Mapping[str, ProfileUser] = field(default_factory=dict)
    conversations: Mapping[str, int] = field(default_factory=dict)
    config_file: Path | None = None
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def has_identity(self) -> bool:
        return self.token is not None or self.user is not None

    def conversation(self, one: str, other: str) -> int | None:
        """The 1:1 conversation of two of the profile's users (either order), if it names one."""
        wanted = frozenset((one, other))
        return next((cid for key, cid in self.conversations.items() if pair_of(key) == wanted), None)

    def for_user(self, alias: str, origin: str = "") -> SignIn:
        """The same server and profile, signed in as ``alias``: with its profile token, or by dev login.

        ``origin`` says where the name came from (``--user``); ``config show`` prints it.
        """
        entry = self.users.get(alias)
        from_profile = f"profile {self.profile}, user {alias}"
        origins = {**self.origins, "user": origin or from_profile}
        for name in ("token", "user_id", "terminal_id"):
            origins.pop(name, None)
            if getattr(entry, name, None) is not None:
                origins[name] = from_profile
        token = entry.token if entry else None
        return replace(
            self,
            user=alias,
            token=token,
            user_id=entry.user_id if entry and token is not None else None,
            terminal_id=entry.terminal_id if entry else None,
            alias=alias,
            origins=origins,
        )

    def contacts(self) -> list[DirectoryUser]:
        """The profile's users with a ``user_id``, as a directory would list them to me.

        For a server without a directory: ``softphone call bob`` finds bob's user id here and the
        conversation from ``[profiles.NAME.conversations]``; my own entry has no conversation.
        """
        if not self.users:
            return []  # without loading the wire models: the phone's first paint does not wait for them
        from softphone.api import DirectoryUser

        found: list[DirectoryUser] = []
        for alias, entry in self.users.items():
            if entry.user_id is None:
                continue
            conversation = None if alias == self.alias else self.conversation(self.alias or "", alias)
            if alias != self.alias and conversation is None:
                continue
            found.append(
                DirectoryUser(user_id=entry.user_id, name=alias, display_name=alias, conversation_id=conversation)
            )
        return found

    def shown(self) -> list[tuple[str, str, str]]:
        """``(setting, value, where it came from)`` rows for ``config show``; tokens redacted."""
        config = str(self.config_file) if self.config_file else f"none ({default_config_file()} does not exist)"
        rows = [("config file", config, self.origins.get("config", DEFAULT))]
        values: dict[str, object] = {
            "profile": self.profile,
            "server": self.server or "the local simulator (started if needed)",
            "user": self.user,
            "token": short_token(self.token) if self.token else None,
            "user_id": self.user_id,
            "terminal_id": self.terminal_id or "new for every run",
            "poll": "yes" if self.poll else "no (push where the server has it)",
        }
        for name, value in values.items():
            if value is not None:
                rows.append((name.replace("_", " "), str(value), self.origins.get(name, DEFAULT)))
        for alias, entry in self.users.items():
            parts = [f"user_id {entry.user_id}" if entry.user_id else "", short_token(entry.token) if entry.token else ""]
            described = ", ".join(part for part in parts if part) or "dev login"
            rows.append((f"user {alias}", described, f"profile {self.profile}"))
        for key, cid in self.conversations.items():
            rows.append((f"conversation {key}", str(cid), f"profile {self.profile}"))
        return rows


def check_server_url(url: str, where: str) -> str:
    """An http:// or https:// URL with a host, without a trailing slash."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port raises for "host:abc"
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsProblem(f"{where}: {url!r} is not an http:// or https:// URL with a host")
    return url.rstrip("/")


def check_terminal_id(terminal_id: str, where: str) -> str:
    if not 0 < len(terminal_id) <= TERMINAL_ID_MAX:
        raise SettingsProblem(
            f"{where}: a terminal id has 1 to {TERMINAL_ID_MAX} characters, not {len(terminal_id)}"
        )
    return terminal_id


def resolve_sign_in(options: SignInOptions) -> SignIn:
    """The options, over the environment, over the profile; checked. Raises :class:`SettingsProblem`."""
    if options.user is not None and options.token is not None:
        raise SettingsProblem("--user and --token are alternatives: give one.")
    if options.user_id is not None and options.token is None:
        raise SettingsProblem("--user-id goes with --token: it says who the token is.")
    if options.config is not None and not options.config.is_file():
        raise SettingsProblem(f"--config {options.config}: no such file")
    config_file = options.config or (default_config_file() if default_config_file().is_file() else None)
    settings, sources = _read_layers(options, config_file)
    origins = {key: origin_of(key, source, config_file) for key, source in sources.items()}
    origins["config"] = "--config" if options.config else DEFAULT
    profile = _profile(settings, origins, config_file)
    from_profile = f"profile {settings.profile}"

    server = settings.server
    if server is None and profile is not None and profile.server is not None:
        server, origins["server"] = profile.server, from_profile
    if server is not None:
        server = check_server_url(server, origins["server"])

    if options.poll is not None:
        poll, origins["poll"] = options.poll, "--poll" if options.poll else "--no-poll"
    elif profile is not None and profile.poll is not None:
        poll, origins["poll"] = profile.poll, from_profile
    else:
        poll = False

    users = profile.users if profile is not None else {}
    signed = SignIn(
        server=server,
        poll=poll,
        profile=settings.profile,
        users=users,
        conversations=profile.conversations if profile is not None else {},
        config_file=config_file,
        origins=origins,
    )
    if options.user is not None:
        signed = signed.for_user(options.user, origin="--user")
    elif settings.token is not None:
        # A user id belongs to the token of its own layer: SOFTPHONE_USER_ID says nothing about --token's.
        user_id = settings.user_id if sources.get("user_id") == sources["token"] else None
        alias = next((name for name, user in users.items() if user.token == settings.token), None)
        signed = replace(signed, user=alias, token=settings.token, user_id=user_id, alias=alias)
    elif settings.user_id is not None:
        raise SettingsProblem(f"{origins['user_id']} goes with {ENV_PREFIX}TOKEN: it says who the token is.")

    if options.terminal_id is not None:
        origins = {**signed.origins, "terminal_id": "--terminal-id"}
        signed = replace(signed, terminal_id=check_terminal_id(options.terminal_id, "--terminal-id"), origins=origins)
    return signed


def origin_of(key: str, source: str, config_file: Path | None) -> str:
    """How a message names where ``key`` came from: ``--server``, ``SOFTPHONE_SERVER``, the config file."""
    if source == "option":
        return _option_name(key)
    if source == "environment":
        return f"{ENV_PREFIX}{key.upper()}"
    return f"config file {config_file}"


@dataclass(frozen=True)
class Layers:
    """What the options, the environment and the file said, each key taken from the layer that wins it."""

    profile: str | None = None
    server: str | None = None
    token: str | None = None
    user_id: int | None = None
    profiles: Mapping[str, Profile] = field(default_factory=dict)


def environment_given() -> bool:
    """Whether one of our ``SOFTPHONE_*`` variables is set: not empty, in any case, as pydantic-settings reads them."""
    ours = {ENV_PREFIX + key.upper() for key in ENVIRONMENT_KEYS}
    return any(value and name.upper() in ours for name, value in os.environ.items())


def _read_layers(options: SignInOptions, config_file: Path | None) -> tuple[Layers, dict[str, str]]:
    """The layers and, for each key set, the layer that set it (``option``, ``environment``, ``file``).

    With neither a file nor a variable the options are all there is, as click typed and checked them:
    the phone then starts without loading pydantic-settings (:mod:`softphone.profiles`) before its first
    paint. ``tests/test_settings.py`` checks that both ways agree.
    """
    given = {"server": options.server, "token": options.token, "user_id": options.user_id, "profile": options.profile}
    if config_file is None and not environment_given():
        values = {key: value for key, value in given.items() if value is not None}
        return Layers(**values), dict.fromkeys(values, "option")
    from softphone.profiles import Settings

    return Settings.load(given, config_file)


def _profile(settings: Layers, origins: Mapping[str, str], config_file: Path | None) -> Profile | None:
    """The profile named by ``--profile``, ``SOFTPHONE_PROFILE`` or the file; ``None`` if none is."""
    if settings.profile is None:
        return None
    found = settings.profiles.get(settings.profile)
    if found is None:
        where = f"in {config_file}" if config_file else f"(no config file: {default_config_file()} does not exist)"
        known = ", ".join(sorted(settings.profiles)) or "none"
        raise SettingsProblem(
            f"{origins['profile']}: no profile {settings.profile!r} {where}; profiles there: {known}"
        )
    return found
