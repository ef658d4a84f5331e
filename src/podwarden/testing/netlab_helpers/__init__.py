"""Scripts the netlab runs inside its namespaces (plain stdlib, run as files)."""
