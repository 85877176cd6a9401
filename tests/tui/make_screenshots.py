"""``make screenshots``: every scenario of ``scenarios.py`` as SVG and PNG in ``screenshots/``.

Run from ``tests/`` as ``python -m tui.make_screenshots OUTDIR``. PNGs come from ``rsvg-convert``,
told to keep the SVG's spaces (it drops leading no-break spaces otherwise).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from . import scenarios
from .harness import FakeClock, ThreadedSimulator


async def shoot(make: scenarios.ScenarioFactory, outdir: Path) -> Path:
    clock = FakeClock()
    simulator = ThreadedSimulator(clock)
    simulator.start()
    try:
        scenario = make(simulator.url, clock)
        async with scenario.app.run_test(size=scenario.size) as pilot:
            await scenario.run_before(pilot)
            await pilot.pause()
            svg = scenario.app.export_screenshot(title=f"softphone · {scenario.name}")
    finally:
        simulator.stop()
    path = outdir / f"{scenario.name}.svg"
    path.write_text(svg.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")
    return path


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for make in scenarios.ALL:
        svg = asyncio.run(shoot(make, outdir))
        subprocess.run(["rsvg-convert", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
        print(f"{svg} and .png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../screenshots"))
