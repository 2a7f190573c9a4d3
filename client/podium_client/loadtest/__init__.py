"""`podium-client loadtest`: the load generators the benchmarks use, bounded and
loopback-only unless told otherwise."""
