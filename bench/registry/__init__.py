"""The schema registry a run's Avro cells use: an embedded Apicurio Registry (bench.registry.embedded)
started on demand, or a Confluent-compatible registry the user points eosbench at (bench.registry.target)."""
