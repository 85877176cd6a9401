"""Exit codes of the ``softphone`` commands, named once. A usage error exits with click's own 2."""

OK = 0
NOT_RUNNING = 1
"""``softphone sim``: no simulator answers where it looked, or a confirmation was declined."""
