"""Trogdor, Kafka's distributed workload framework, as the place eosbench's roles run when a
cell's `launcher` is `trogdor`: a coordinator's REST client (`coordinator`), the embedded
coordinator and agents (`embedded`), and the launcher that runs roles as ExternalCommand tasks
(`launcher`)."""
