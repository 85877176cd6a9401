"""The palette's ``softphone sim`` actions on the local background simulator, answered in words.

The same calls as the command (:mod:`softphone.background`); they block on HTTP, so the app runs them in
thread workers and shows what they return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from softphone.launch import local_url

if TYPE_CHECKING:
    from softphone.background import RunningSimulator


class LocalSimulator:
    """The background simulator on ``port`` of this machine, the one a phone without ``--server`` uses."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = local_url(port)

    def _find(self) -> RunningSimulator | None:
        from softphone import background  # httpx and pydantic: loaded when asked, not before the first paint

        return background.find(self.url, self.port)

    def status(self) -> str:
        from softphone import background

        running = self._find()
        return background.describe(running) if running else f"No simulator is running at {self.url}."

    def stop(self) -> str:
        from softphone import background

        running = self._find()
        if running is None:
            return f"No simulator is running at {self.url}."
        try:
            background.stop(running)
        except OSError as error:  # gone meanwhile, or not ours to signal
            return f"Could not stop the simulator at {running.url} (pid {running.info.pid}): {error.strerror}."
        return f"Stopped the simulator at {running.url} (pid {running.info.pid})."

    def reset(self) -> str:
        from softphone import background

        running = self._find()
        if running is None:
            return f"No simulator is running at {self.url}."
        answer = background.reset(running)
        if answer is None:
            return f"The simulator at {running.url} did not reset its calls."
        return f"Ended {answer.ended} live call(s) as abandoned."
