"""``make screenshots``: every scenario of ``scenarios.py`` as SVG and PNG in ``screenshots/``.

Run from ``tests/`` as ``python -m tui.make_screenshots OUTDIR``. Each scenario is shot at ``SIZE``
(or the one size it is about), and a few also small, to show how the screens fold. PNGs come from
``rsvg-convert``, told to keep the SVG's spaces (it drops leading no-break spaces otherwise).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from . import scenarios
from .harness import SIZE, FakeClock, ThreadedSimulator

SMALL_TOO: list[tuple[scenarios.ScenarioFactory, scenarios.Size]] = [
    (scenarios.home, (40, 12)),
    (scenarios.in_call, (60, 20)),
    (scenarios.incoming, (60, 20)),
]


def shots() -> list[tuple[scenarios.ScenarioFactory, scenarios.Size, str]]:
    """(scenario, size, file name) for every picture."""
    main = [(make, scenarios.ONLY_AT.get(make, [SIZE])[0], make.__name__) for make in scenarios.ALL]
    small = [(make, size, f"{make.__name__}-{size[0]}x{size[1]}") for make, size in SMALL_TOO]
    return main + small


async def shoot(make: scenarios.ScenarioFactory, size: scenarios.Size, name: str, outdir: Path) -> Path:
    clock = FakeClock()
    simulator = ThreadedSimulator(clock)
    simulator.start()
    try:
        scenario = make(simulator.url, clock)
        async with scenario.app.run_test(size=size) as pilot:
            await scenario.run_before(pilot)
            await pilot.pause()
            svg = scenario.app.export_screenshot(title=f"softphone · {name}")
    finally:
        simulator.stop()
    path = outdir / f"{name}.svg"
    path.write_text(svg.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")
    return path


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for make, size, name in shots():
        svg = asyncio.run(shoot(make, size, name, outdir))
        subprocess.run(["rsvg-convert", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
        print(f"{svg} and .png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../screenshots"))
