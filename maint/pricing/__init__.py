"""Bulk prices, customer-group discounts and customer groups from client spreadsheets.

read (maint.sheets) → validate (every error collected) → plan (old → new) → apply (temp table, set-based
statements, one transaction on InnoDB, locks + verify + restore on MyISAM) → undo file and audit record.
"""
