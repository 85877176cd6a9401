"""``softphone load``: call lifecycles at a given rate against a server, on Locust.

``plan`` (what to run, no Locust) is all the command's own process loads; ``lifecycle`` (the one user
class), ``runner`` (local, master, worker) and ``report`` run in the load process that
``python -m softphone.load`` starts, where Locust and its gevent patching are imported first.
"""
