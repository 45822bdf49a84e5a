"""Recipient side and shared domain of invite: event config, store, signed links, web app."""
