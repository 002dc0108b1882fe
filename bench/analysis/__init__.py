"""Analysis reads results only, never Kafka: summaries, overhead, lag thresholds, comparisons."""
