"""Access to a client host: SSH (strict host keys) and SQL through an SSH tunnel."""
