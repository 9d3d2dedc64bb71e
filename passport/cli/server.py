"""CLI commands: server (placeholder until its issue lands)."""
