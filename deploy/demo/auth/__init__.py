"""The demo's auth service."""
