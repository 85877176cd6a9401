"""Widgets shared by the softphone's screens; each renders from core state it is handed."""
