"""The WebSocket hub: subscriptions, fan-out to clients, resume by sequence number."""
