"""CLI commands: cards (placeholder until its issue lands)."""
