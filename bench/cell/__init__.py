"""One cell: one delivery mode at one parameter point, measured once.

- `spec`: what a cell is (CellSpec, one field per workload parameter) and where it runs (Target);
- `topology`: which roles a topology runs, their names and client configurations;
- `phases`: the script of a cell (topics, ready, warm-up, measure, drain, account);
- `faults`: the faults applied during the measured window;
- `derive`: the cell's metrics, derived from what its roles report.

This package's `__init__` imports nothing, so `bench.cell.spec` stays free of Kafka clients.
"""
