"""The shape of the code, as tests: which layer may load what, and which copies must stay in step."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import softphone
import softphone.api
import softphone.core
from softphone.api import CallState
from softphone.core import CallFacts

NETWORK_AND_UI = ("httpx", "websockets", "fastapi", "starlette", "uvicorn", "textual")


def modules_loaded_by(statement: str) -> set[str]:
    """Top-level module names in ``sys.modules`` after ``statement`` runs in a fresh interpreter."""
    script = f"import sys, json\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("statement", ["import softphone.core", "import softphone.api", "from softphone.api import CallState, RULES"])
def test_the_core_and_the_wire_layer_load_no_network_server_or_ui_code(statement: str) -> None:
    assert modules_loaded_by(statement).isdisjoint(NETWORK_AND_UI)


def test_the_simulator_loads_no_client_and_no_ui() -> None:
    script = (
        "import sys, softphone.server.app\n"
        "print(sorted(m for m in sys.modules if m.startswith(('softphone.api._client', 'softphone.api._push', 'textual', 'httpx'))))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_call_controller_and_the_bot_load_no_ui_and_no_server() -> None:
    """Headless commands and bots stand on the controller: it must not drag Textual or the simulator in."""
    assert modules_loaded_by("import softphone.session, softphone.bot").isdisjoint(
        {"textual", "fastapi", "starlette", "uvicorn"}
    )


def test_the_toolkit_loads_no_ui_and_no_server() -> None:
    """The headless commands, the settings and the JSON lines: a tester's script must not start Textual."""
    statement = "import softphone.toolkit, softphone.headless, softphone.records, softphone.settings, softphone.cli"
    assert modules_loaded_by(statement).isdisjoint({"textual", "fastapi", "starlette", "uvicorn"})


FIRST_SCREEN = """
import asyncio, json, sys
import softphone.tui.app as tui
from softphone.cli import main

def shown_without_signing_in(config, log_level):
    app = tui.SoftphoneApp(config)
    app.sign_in = lambda: None  # what the first paint does not wait for: signing in loads the rest

    async def show():
        async with app.run_test() as pilot:
            await pilot.pause()
            assert isinstance(app.screen, tui.HomeScreen) and app.screen.is_mounted

    asyncio.run(show())

tui.run_phone = shown_without_signing_in
main(["--server", "http://127.0.0.1:1", "--user", "alice"], standalone_mode=False)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_the_phone_paints_its_first_screen_before_loading_pydantic_and_the_clients(tmp_path: Path) -> None:
    """``softphone --user alice`` as far as its home screen: the wire models, the settings model and the
    HTTP and push clients load while it signs in, after the first paint (about half of its start-up)."""
    env = {name: value for name, value in os.environ.items() if not name.upper().startswith("SOFTPHONE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)  # no profiles file
    result = subprocess.run(
        [sys.executable, "-c", FIRST_SCREEN], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "textual" in loaded
    assert loaded.isdisjoint({"pydantic", "pydantic_core", "pydantic_settings", "httpx", "websockets"})


def test_the_screens_do_not_import_the_app() -> None:
    """The app imports the screens; a screen that needs the app asks through ``PhoneHost``."""
    screens = ", ".join(
        f"softphone.tui.screens.{name}" for name in ("home", "outgoing", "incoming", "in_call", "ended", "login", "by_id")
    )
    script = f"import sys, {screens}\nprint('softphone.tui.app' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_client_half_of_the_api_loads_on_first_use() -> None:
    loaded = modules_loaded_by("from softphone.api import CallClient, PushStream")
    assert {"httpx", "websockets"} <= loaded


def test_no_two_public_names_mean_different_things() -> None:
    api = {name: getattr(softphone.api, name) for name in softphone.api.__all__}
    core = {name: getattr(softphone.core, name) for name in softphone.core.__all__}
    clashes = {name for name in api.keys() & core.keys() if api[name] is not core[name]}
    assert not clashes


def test_the_cores_call_facts_are_call_state_fields() -> None:
    """``CallFacts`` copies ``CallState``'s names; a field renamed on one side fails here."""
    facts = {field.name for field in dataclasses.fields(CallFacts)}
    assert facts <= set(CallState.model_fields), facts - set(CallState.model_fields)


def test_every_way_a_state_arrives_is_named_by_each_listener() -> None:
    """The push stream's sources and each listener's table of them: a new source must be in both."""
    from typing import get_args

    from softphone.api import SnapshotSource
    from softphone.scenario.watch import STREAM_SOURCES as SCENARIO_SOURCES
    from softphone.session import _STREAM_SOURCES as SESSION_SOURCES

    sources = set(get_args(SnapshotSource))
    assert set(SESSION_SOURCES) == sources
    assert set(SCENARIO_SOURCES) == sources


def test_the_readme_names_every_module() -> None:
    """The README's "How it is built" draws the code as it is: a module added without a word there fails here."""
    root = Path(softphone.__file__).parent
    readme = (root.parent / "README.md").read_text(encoding="utf-8")
    tree = readme.split("## How it is built", 1)[1].split("```")[1]
    unnamed = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "__init__.py" and path.name not in tree
    )
    assert not unnamed


def private_api_imports(path: Path) -> list[str]:
    """Each ``softphone.api._x`` (or ``_x`` from ``softphone.api``) that the module at ``path`` imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("softphone.api._")]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            if node.module.startswith("softphone.api._"):
                found.append(node.module)
            elif node.module == "softphone.api":
                found += [f"softphone.api.{alias.name}" for alias in node.names if alias.name.startswith("_")]
    return found


def test_only_the_wire_layer_imports_its_private_modules() -> None:
    """Everything outside ``softphone/api`` (the TUI, cli, session, bot, toolkit, scenario, check, load, the
    simulator) goes through the public face ``softphone.api``, so the private modules can move freely."""
    root = Path(softphone.__file__).parent
    offenders = {
        str(path.relative_to(root)): imports
        for path in sorted(root.rglob("*.py"))
        if root / "api" not in path.parents and (imports := private_api_imports(path))
    }
    assert not offenders


def test_a_private_import_is_found_in_every_spelling(tmp_path: Path) -> None:
    module = tmp_path / "offender.py"
    module.write_text(
        "import softphone.api._client\n"
        "from softphone.api._models import CallState\n"
        "from softphone.api import _rules, CallClient\n"
        "from softphone.api import RULES\n",
        encoding="utf-8",
    )
    assert private_api_imports(module) == ["softphone.api._client", "softphone.api._models", "softphone.api._rules"]


def test_the_apis_lazy_names_are_its_type_checking_imports_and_public() -> None:
    """``softphone.api`` names each lazily loaded name three times (for type checkers, for loading, in
    ``__all__``): a name added to one list and not the others fails here, not in a user's import."""
    tree = ast.parse(inspect.getsource(softphone.api))
    for_type_checkers: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module is not None
                for_type_checkers.setdefault(statement.module, set()).update(alias.name for alias in statement.names)
    lazy = {module: set(names) for module, names in softphone.api._LAZY_MODULES.items()}
    assert for_type_checkers == lazy
    assert set(softphone.api._LAZY) <= set(softphone.api.__all__)
