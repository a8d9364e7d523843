"""Time against the client's plan: plan rules, the SQLite ledger, the budget guard and statements."""
