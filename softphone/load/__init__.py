"""``softphone load``: call lifecycles at a given rate against a server, on Locust.

This package's ``__init__`` holds only the command's defaults, so ``softphone`` starts without importing
anything for a load. ``plan`` (what to run, no Locust) is what the command's own process loads to check
its options; ``lifecycle`` (the one user class), ``runner`` (local, master, worker) and ``report`` run in
the load process that ``python -m softphone.load`` starts, where Locust and its gevent patching are
imported first.
"""

DEFAULT_MIX = "answer=80,reject=10,cancel=5,timeout=5"
LOCUST_MASTER_PORT = 5557
"""Locust's own default port for workers to reach their master."""
