"""Dated, verified snapshots of a store's files and database (`fab mirror`)."""
