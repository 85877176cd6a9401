"""``python -m softphone.load``: a load process (local, master or worker), as ``SOFTPHONE_LOAD_LAUNCH`` says.

``softphone load`` checks its options and then becomes this process, so that Locust, and with it
gevent's monkey-patching of the standard library, is imported first and only here.
"""

import locust  # noqa: F401, I001  (first: gevent patches sockets and ssl before anything else opens one)

import os
import sys

from softphone.load.plan import LAUNCH_VARIABLE, Launch
from softphone.load.runner import run

if __name__ == "__main__":
    given = os.environ.pop(LAUNCH_VARIABLE, None)  # popped: the processes it starts get their own
    if given is None:
        sys.exit(f"python -m softphone.load: no {LAUNCH_VARIABLE}; start a load with `softphone load`")
    sys.exit(run(Launch.model_validate_json(given)))
