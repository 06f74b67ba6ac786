"""First-party CryptoViz plugins; installed as the `cryptoviz_plugins` package."""
