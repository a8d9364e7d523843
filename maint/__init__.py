"""maint: look after clients' OpenCart shops, one safe command per job."""

__version__ = "0.1.0"
