"""``python -m softphone.load LAUNCH_JSON``: a load process (local, master or worker).

``softphone load`` checks its options and then becomes this process, so that Locust, and with it
gevent's monkey-patching of the standard library, is imported first and only here.
"""

import locust  # noqa: F401, I001  (first: gevent patches sockets and ssl before anything else opens one)

import sys

from softphone.load.plan import Launch
from softphone.load.runner import run

if __name__ == "__main__":
    sys.exit(run(Launch.model_validate_json(sys.argv[1])))
