"""Installing: a wheel built from this tree has every command and every package data file, and they work.

``pipx install .`` and ``uv tool install .`` install this same wheel with its dependencies from the
package index. Offline, the test builds the wheel with the development environment's own setuptools,
installs it (and nothing else) into a fresh virtual environment that borrows the already installed
dependencies, and runs the installed ``softphone`` from outside the source tree.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from support.cli import isolated_env
from support.server import free_port

import softphone
from softphone.cli import main
from softphone.launch import wait_until_healthy

SOURCE = Path(softphone.__file__).parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh venv with the wheel installed; the wheel beside it."""
    root = tmp_path_factory.mktemp("install")
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root), str(SOURCE)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    # The dependencies, borrowed as a plain path entry: its .pth files (this tree's editable install) are not run.
    Path(purelib, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    (wheel,) = root.glob("softphone-*.whl")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    return venv / "bin"


def run(installed: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [installed / "softphone", *args], cwd=cwd, env=isolated_env(cwd), capture_output=True, text=True, timeout=60
    )


def test_the_wheel_holds_every_package_data_file(installed: Path) -> None:
    (wheel,) = installed.parents[1].glob("softphone-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {
        path.relative_to(SOURCE).as_posix()
        for path in (SOURCE / "softphone").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    }
    assert data and data <= names, f"missing from [tool.setuptools.package-data]: {sorted(data - names)}"
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "softphone = softphone.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_command_runs_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [installed / "python", "-c", "import softphone; print(softphone.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(installed.parent)), where
    listed = run(installed, "--help", cwd=tmp_path).stdout
    assert all(f"  {name} " in listed for name in main.commands), listed


def test_the_installed_simulator_and_commands_work(installed: Path, tmp_path: Path) -> None:
    """``serve`` reads its bundled directory (package data); ``token``, ``call`` and ``run`` (with a bundled
    scenario) talk to it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [installed / "softphone", "serve", "--port", str(port), "--db", ":memory:"],
        cwd=tmp_path, env=isolated_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_healthy(url, server, tmp_path / "serve.log")
        assert run(installed, "token", "alice", "--server", url, cwd=tmp_path).stdout.strip()
        placed = run(installed, "call", "bob", "--user", "alice", "--server", url, "--cancel-after", "0",
                     "--expect", "cancelled", cwd=tmp_path)  # fmt: skip
        assert placed.returncode == 0, placed.stdout + placed.stderr
        scenario = run(installed, "run", "accept-from-calling", "--server", url, cwd=tmp_path)  # the bundled library
        assert scenario.returncode == 0 and "PASS  accept-from-calling" in scenario.stdout, scenario.stdout + scenario.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_shell_completion_comes_from_click(installed: Path, tmp_path: Path, shell: str) -> None:
    script = subprocess.run(
        [installed / "softphone"], cwd=tmp_path, env=isolated_env(tmp_path, {"_SOFTPHONE_COMPLETE": f"{shell}_source"}),
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "_softphone_completion" in script
    completed = subprocess.run(
        [installed / "softphone"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=isolated_env(tmp_path, {"_SOFTPHONE_COMPLETE": "bash_complete", "COMP_WORDS": "softphone ca", "COMP_CWORD": "1"}),
    ).stdout  # fmt: skip
    assert completed.split() == ["plain,call", "plain,cancel"]
