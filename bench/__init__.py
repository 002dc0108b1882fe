"""eosbench: measure what Apache Kafka's exactly-once semantics cost, and prove what they guarantee."""

__version__ = "0.1.0"
