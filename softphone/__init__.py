"""softphone: a terminal softphone and a faithful simulator of the Fengshengshou call API."""

__version__ = "0.1.0"
