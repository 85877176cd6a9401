"""Helpers shared by every test package: the simulator as a real process, and polling."""
