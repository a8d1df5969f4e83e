"""The demo's db service."""
