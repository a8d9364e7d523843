"""`fab extension` and `fab products --list`: OpenCart extensions installed, removed and listed safely."""
