"""The softphone's screens: each renders from the session's core state and sends intents back."""
