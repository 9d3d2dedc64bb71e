"""CLI commands: bench (placeholder until its issue lands)."""
