"""Message buses behind the `Bus` protocol: the same topics in memory and on Kafka."""
