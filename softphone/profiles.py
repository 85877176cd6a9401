"""The profiles file and the ``SOFTPHONE_*`` environment, read and checked: pydantic-settings models.

:func:`softphone.settings.resolve_sign_in` loads this module only when there is a file or a variable to
read; with the options alone (the phone started as ``softphone --user alice``) nothing here is needed,
and the phone's first screen paints without pydantic.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from softphone.api import TERMINAL_ID_MAX
from softphone.settings import (
    ENV_PREFIX,
    ENVIRONMENT_KEYS,
    FILE_KEYS,
    OPTION_KEYS,
    Layers,
    SettingsProblem,
    origin_of,
    pair_of,
)

PositiveId = Annotated[int, Field(gt=0)]
TerminalId = Annotated[str, Field(min_length=1, max_length=TERMINAL_ID_MAX)]


class ProfileUser(BaseModel):
    """``[profiles.NAME.users.ALIAS]``: how ``--user ALIAS`` signs in on that profile's server."""

    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1)] | None = None
    user_id: PositiveId | None = None
    terminal_id: TerminalId | None = None


class Profile(BaseModel):
    """``[profiles.NAME]``: a server, how to follow it, its users and the conversations between them."""

    model_config = ConfigDict(extra="forbid")

    server: str | None = None
    poll: bool | None = None
    users: dict[str, ProfileUser] = {}
    conversations: dict[str, PositiveId] = {}

    @field_validator("conversations")
    @classmethod
    def _pairs(cls, conversations: dict[str, int]) -> dict[str, int]:
        for key in conversations:
            if len(pair_of(key)) != 2:
                raise ValueError(f"{key!r}: a conversation is named by two users, as \"alice,bob\"")
        return conversations


@dataclass
class _Loading:
    config_file: Path | None
    origins: dict[str, str] = field(default_factory=dict)


_LOADING: ContextVar[_Loading] = ContextVar("softphone_settings_loading")


class _Recorded(PydanticBaseSettingsSource):
    """A source limited to ``keys`` that notes which values it supplied, for ``config show``."""

    def __init__(self, inner: PydanticBaseSettingsSource, name: str, keys: tuple[str, ...], origins: dict[str, str]):
        super().__init__(inner.settings_cls)
        self.__name__ = name
        self._inner = inner
        self._keys = keys
        self._origins = origins

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        values = {key: value for key, value in self._inner().items() if key in self._keys}
        for key in values:
            self._origins.setdefault(key, self.__name__)
        return values


class Settings(BaseSettings):
    """The settings model: options, then ``SOFTPHONE_*`` variables, then the TOML file."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX.lower(), env_ignore_empty=True, extra="forbid")

    profile: str | None = None
    server: str | None = None
    token: str | None = None
    user_id: PositiveId | None = None
    profiles: dict[str, Profile] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        loading = _LOADING.get()
        sources = [
            _Recorded(init_settings, "option", OPTION_KEYS, loading.origins),
            _Recorded(env_settings, "environment", ENVIRONMENT_KEYS, loading.origins),
        ]
        if loading.config_file is not None:
            toml = TomlConfigSettingsSource(settings_cls, loading.config_file)
            sources.append(_Recorded(toml, "file", FILE_KEYS, loading.origins))
        return tuple(sources)

    @classmethod
    def load(cls, options: Mapping[str, object], config_file: Path | None) -> tuple[Layers, dict[str, str]]:
        """The layers and, for each key set, the source that set it (``option``, ``environment``, ``file``)."""
        if config_file is not None:
            _check_file_keys(config_file)
        loading = _Loading(config_file)
        token = _LOADING.set(loading)
        try:
            settings = cls(**{key: value for key, value in options.items() if value is not None})
        except ValidationError as error:
            raise SettingsProblem(_first_problem(error, loading.origins, config_file)) from None
        finally:
            _LOADING.reset(token)
        layers = Layers(**{layer.name: getattr(settings, layer.name) for layer in fields(Layers)})
        return layers, loading.origins


def _check_file_keys(config_file: Path) -> None:
    """A readable TOML file whose top level holds only ``profile`` and ``[profiles.NAME]``."""
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsProblem(f"config file {config_file}: {error}") from None
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise SettingsProblem(
            f"config file {config_file}: unknown key {unknown[0]!r} (the top level holds profile and [profiles.NAME])"
        )


def _first_problem(error: ValidationError, sources: Mapping[str, str], config_file: Path | None) -> str:
    """The first problem, named as the user wrote it: ``SOFTPHONE_USER_ID``, ``--server``, or the file's key."""
    issue = error.errors()[0]
    key = str(issue["loc"][0]) if issue["loc"] else ""
    source = sources.get(key, "file")
    where = origin_of(key, source, config_file)
    if source == "file":
        where += ": " + ".".join(map(str, issue["loc"]))
    return f"{where}: {issue['msg']}"
