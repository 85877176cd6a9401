"""The documented length limits of the request fields, in characters.

Apart from the models that enforce them so that what only checks a length (a ``--terminal-id`` on the
command line, before the phone's first paint) needs no pydantic.
"""

TERMINAL_ID_MAX = 64
USER_KEY_MAX = 64
REASON_MAX = 50
STAGE_MAX = 32
NETWORK_QUALITY_MAX = 20
