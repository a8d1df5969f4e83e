"""The demo's app service."""
