"""WebSocket fan-out benchmark: CryptoViz against naive peers (see bench_ws.py)."""
