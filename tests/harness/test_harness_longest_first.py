"""Units run longest-first, by the wall times of the claim's last record (LPT scheduling)."""

from __future__ import annotations

import json

from repro.plan import Unit
from repro.runner import longest_first, previous_walls


def _unit(seed_index: int, point: dict | None = None) -> Unit:
    return Unit("c", "e", "default", point or {}, {}, seed_index, 1000 + seed_index)


def test_orders_by_previous_walls_longest_first():
    units = [_unit(i) for i in range(4)]
    walls = {("[]", 0): 1.0, ("[]", 1): 5.0, ("[]", 2): 3.0, ("[]", 3): 4.0}
    assert longest_first([0, 1, 2, 3], units, walls) == [1, 3, 2, 0]


def test_unknown_units_take_the_median_and_ties_keep_plan_order():
    units = [_unit(i) for i in range(5)]
    walls = {("[]", 0): 1.0, ("[]", 1): 5.0, ("[]", 2): 3.0}  # median 3.0 for 3 and 4
    assert longest_first([0, 1, 2, 3, 4], units, walls) == [1, 2, 3, 4, 0]


def test_no_history_keeps_the_plan():
    units = [_unit(i) for i in range(3)]
    assert longest_first([2, 0, 1], units, {}) == [2, 0, 1]


def test_previous_walls_read_by_point_and_seed(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    rec = {"units": [{"point": {"tau": 0.5}, "seed_index": 0, "wall_s": 2.0},
                     {"point": {"tau": 0.5}, "seed_index": 1, "wall_s": 9.0, "cached": True},
                     {"point": {"tau": 1.0}, "seed_index": 0, "wall_s": 7.0}]}
    (d / "default.json").write_text(json.dumps(rec))
    walls = previous_walls("c", "default", tmp_path)
    # a cached unit's wall is its original run's, not this record's: it is left out
    assert walls == {("[('tau', 0.5)]", 0): 2.0, ("[('tau', 1.0)]", 0): 7.0}
    units = [_unit(0, {"tau": 0.5}), _unit(0, {"tau": 1.0})]
    assert longest_first([0, 1], units, walls) == [1, 0]
    assert previous_walls("missing", "default", tmp_path) == {}
    (d / "default.json").write_text("{not json")
    assert previous_walls("c", "default", tmp_path) == {}
