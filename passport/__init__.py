"""The passport domain: rules, cards, participant lists, geocoding, store, CLI."""
