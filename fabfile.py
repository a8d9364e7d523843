from maint.tasks import ns  # noqa: F401  (fab finds the collection here)
