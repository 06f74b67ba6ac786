"""CryptoViz: real-time crypto market data appliance."""

__version__ = "0.1.0"
