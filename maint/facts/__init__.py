"""Read-only probes. Parsing (``parse_*``) is split from fetching (``get_*``) so it is tested on captured output."""
