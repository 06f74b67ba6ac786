"""Exchange adapters: one module per exchange (wire formats, REST paging)."""
