"""The kiosk Flask app."""
