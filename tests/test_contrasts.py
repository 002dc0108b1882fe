"""Each contrast is declared once (bench.analysis.contrast.CONTRASTS): which cells it sets against
which, paired by repetition; one without a section of its own is shown by the generic one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.analysis import contrast, summary
from bench.analysis.stats import one_sample
from bench.results import RunStore
from tests.conftest import REPO
from tests.test_overhead import rows


def test_the_java_clients_are_set_against_librdkafka_in_the_same_cell_otherwise():
    frame = pd.DataFrame(
        rows("transactional", "txn-librdkafka", [100.0, 120.0, 90.0], driver="librdkafka", transaction_size=10)
        + rows("transactional", "txn-java", [50.0, 66.0, 40.0], driver="java", transaction_size=10)
        + rows("transactional", "txn-java-ts100", [80.0, 80.0, 80.0], driver="java", transaction_size=100))
    table = contrast.generic(frame)
    assert list(table["cell"]) == ["txn-java"]  # the ts100 cell has no librdkafka twin: never paired across sizes
    row = table.iloc[0]
    estimate = one_sample(np.log([0.5, 0.55, 40 / 90]))
    assert (row["contrast"], row["base_cell"], row["pairs"]) == ("java vs librdkafka", "txn-librdkafka", 3)
    assert (row["ratio"], row["low"], row["high"]) == pytest.approx((math.exp(estimate.mean), math.exp(estimate.low), math.exp(estimate.high)))


def test_a_contrast_with_a_section_of_its_own_is_not_shown_twice():
    frame = pd.DataFrame(rows("transactional", "tv1", [100.0, 100.0], driver="java", transaction_version=1)
                         + rows("transactional", "tv2", [150.0, 160.0], driver="java", transaction_version=2))
    assert not contrast.CONTRASTS["transaction.version 2 vs 1"].table(frame).empty
    assert contrast.generic(frame).empty


def test_the_committed_client_stacks_run_prices_each_java_cell_against_its_librdkafka_twin():
    frame = summary.summary(RunStore.open(REPO / "results" / "example-clients"))
    table = contrast.generic(frame).set_index("cell")
    java = sorted(set(frame.loc[frame["driver"] == "java", "cell_id"]))
    assert sorted(table.index) == java and (table["pairs"] == 5).all()
    assert (table["base_cell"] == [c.replace("-java", "-librdkafka") for c in table.index]).all()


def test_the_committed_streams_run_prices_each_state_store_against_the_same_application_stateless():
    frame = summary.summary(RunStore.open(REPO / "results" / "example-streams"))
    table = contrast.generic(frame)
    stateful = table[table["contrast"] == "stateful vs stateless"].set_index("cell")
    assert sorted(stateful.index) == sorted(set(frame.loc[frame["state"] == "stateful", "cell_id"]))
    assert (stateful["base_cell"] == [c.replace("-stateful", "-stateless") for c in stateful.index]).all()
    assert (stateful["pairs"] == 3).all() and (stateful["low"] <= stateful["ratio"]).all() and (stateful["ratio"] <= stateful["high"]).all()
