"""Organiser side of invite: the CLI, rendering, sending, exports and the demo."""
