"""Operations: `/metrics` in the Prometheus text format, read from the running parts at scrape time."""
