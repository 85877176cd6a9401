"""The call API as Python: wire models, errors, and (later) the async client and push stream."""
