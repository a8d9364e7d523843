"""Bulk e-mail from the site: SMTP settings, recipients, messages, the send journal."""
