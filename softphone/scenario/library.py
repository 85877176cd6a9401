"""The scenarios that ship inside the package (``softphone/scenarios/*.toml``), found by name or path."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from softphone.scenario.model import Scenario, ScenarioFileError, load_scenario


def library_dir() -> Path:
    """Where the bundled scenarios are; a real directory both in a checkout and in an installed wheel."""
    return Path(str(files("softphone") / "scenarios"))


def library() -> list[Path]:
    """Every bundled scenario file, by name."""
    return sorted(library_dir().glob("*.toml"))


def resolve(argument: str) -> Path:
    """A scenario file: the path given, or the bundled scenario of that name (``busy``, ``busy.toml``)."""
    path = Path(argument)
    if path.is_file():
        return path
    bundled = library_dir() / (argument if argument.endswith(".toml") else f"{argument}.toml")
    if path.parent == Path(".") and bundled.is_file():
        return bundled
    raise ScenarioFileError(f"{argument}: no such file, and no bundled scenario of that name (softphone run --list)")


def load_all(arguments: list[str]) -> list[tuple[Scenario, str]]:
    """Every scenario named, validated before any runs: a bad file stops the run before it starts."""
    loaded = []
    for argument in arguments:
        path = resolve(argument)
        loaded.append((load_scenario(path), str(path)))
    return loaded
