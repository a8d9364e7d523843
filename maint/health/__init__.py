"""Scheduled health checks of client stores, graded by support level (issue 7).

Checks are data (``playbooks/health.yaml``); probes gather values; grading turns a value into a
state and a support level; the runner runs every store in parallel; history and alerts remember
what changed. Findings are data, never exceptions.
"""
