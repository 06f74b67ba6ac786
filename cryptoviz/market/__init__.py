"""Pure market computations: no I/O, no clocks, deterministic."""
