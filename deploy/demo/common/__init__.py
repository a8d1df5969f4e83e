"""Code shared by the demo services: OpenTelemetry setup, request metrics, process entry point."""
