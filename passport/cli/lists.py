"""CLI commands: lists (placeholder until its issue lands)."""
