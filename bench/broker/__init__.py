"""The embedded Apache Kafka broker: where its jars come from, how it starts and stops, and faults."""
