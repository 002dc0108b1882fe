"""The lag exporters eosbench writes alerting rules for, each declared once: its metric and label
names, and what its lag is measured against.

Which offset an exporter subtracts from is what matters under exactly-once. Those that read the
partition's high watermark (kafka_exporter, KMinion, kafka-lag-exporter, like Burrow and
kafka-consumer-groups.sh) count the open transaction's records and the commit markers as lag, which
a read_committed consumer can never read: their thresholds carry the LSO gap the run measured. The
Java consumer's own records-lag-max is taken from its fetch position to the last stable offset under
read_committed, so it carries no gap; it is the worst partition, not a sum, and a consumer that
stops polling stops updating it, so its stall is caught by the consumed rate instead.
"""

from __future__ import annotations

from dataclasses import dataclass

HIGH_WATERMARK, LAST_STABLE = "high watermark", "last stable offset"


@dataclass(frozen=True)
class Exporter:
    name: str
    source: str                 # the project, as its users know it
    lag: str                    # records behind
    aggregate: str              # how a rule folds the lag series: "sum" (a topic's partitions) or "max"
    basis: str                  # what the lag is measured against
    group_label: str | None = None
    topic_label: str | None = None
    client_label: str | None = None
    offsets: str | None = None  # committed offsets (a rule sums their rate): the consumption rate
    consumed_rate: str | None = None  # records consumed per second, a gauge
    time_lag: str | None = None
    note: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels a rule keeps: group and topic, or the client."""
        return tuple(label for label in (self.group_label, self.topic_label, self.client_label) if label)


EXPORTERS = {e.name: e for e in (
    Exporter("kafka_exporter", "danielqsj/kafka_exporter", "kafka_consumergroup_lag_sum", "sum", HIGH_WATERMARK,
             group_label="consumergroup", topic_label="topic", offsets="kafka_consumergroup_current_offset_sum",
             note="lag per group and topic = the partitions' newest offsets (high watermarks) - the group's committed offsets; "
                  "no time lag"),
    Exporter("kminion", "redpanda-data/kminion (metrics namespace kminion, its default)", "kminion_kafka_consumer_group_topic_lag",
             "sum", HIGH_WATERMARK, group_label="group_id", topic_label="topic_name",
             offsets="kminion_kafka_consumer_group_topic_offset_sum",
             note="lag per group and topic against the high watermarks; no time lag"),
    Exporter("jmx", "the Java consumer's own metrics through the Prometheus JMX exporter (default naming)",
             "kafka_consumer_consumer_fetch_manager_metrics_records_lag_max", "max", LAST_STABLE, client_label="client_id",
             consumed_rate="kafka_consumer_consumer_fetch_manager_metrics_records_consumed_rate",
             note="records-lag-max of kafka.consumer:type=consumer-fetch-manager-metrics: the worst assigned partition over the "
                  "metrics window, from the fetch position to the last stable offset under read_committed (the high watermark "
                  "otherwise); a consumer that stops polling stops updating it, so its stall is caught by records-consumed-rate"),
    Exporter("kafka-lag-exporter", "seglo/kafka-lag-exporter (archived in 2024, still deployed)", "kafka_consumergroup_group_lag",
             "sum", HIGH_WATERMARK, group_label="group", topic_label="topic", offsets="kafka_consumergroup_group_offset",
             time_lag="kafka_consumergroup_group_lag_seconds",
             note="lag per partition against the high watermark, and a time lag interpolated from its offset history"),
)}
