"""Anytime-valid seeds: the confidence sequence against its definition, the point of it in a
simulation (optional stopping breaks the t-interval, not the sequence), and
``--until-decided`` end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from repro.verdicts import CS_G, cs_halfwidth_factor, cs_interval, mixture_bayes_factor, t_interval


@pytest.mark.parametrize("n", [4, 5, 8, 20, 100, 1000])
@pytest.mark.parametrize("g", [0.25, 1.0, CS_G])
def test_closed_form_boundary_solves_the_mixture_martingale(n, g):
    """At |t| = k_n the Gaussian-mixture Bayes factor equals 1/alpha exactly (the closed
    form inverts the definition); inside it is below, outside above."""
    k = cs_halfwidth_factor(n, g=g)
    if math.isinf(k):  # the Bayes factor's supremum over t, (1+ng)^((n-1)/2), is below 1/alpha
        assert (1 + n * g) ** ((n - 1) / 2) < 20.0
        return
    t = k  # |mean| <= k_n sd/sqrt(n)  <=>  |t| <= k_n
    assert mixture_bayes_factor(t, n, g) == pytest.approx(20.0, rel=1e-9)
    assert mixture_bayes_factor(0.99 * t, n, g) < 20.0 < mixture_bayes_factor(1.01 * t, n, g)


def test_the_sequence_is_infinite_until_it_can_exclude_anything():
    assert math.isinf(cs_halfwidth_factor(1)) and math.isinf(cs_halfwidth_factor(2))
    assert math.isinf(cs_halfwidth_factor(3))  # with g = 4, finite from 4 seeds on
    assert math.isfinite(cs_halfwidth_factor(4))


def test_the_sequence_is_wider_than_the_t_interval_and_shrinks():
    ks = [cs_halfwidth_factor(n) for n in (5, 10, 20, 50, 200)]
    ts = [stats.t.ppf(0.975, n - 1) for n in (5, 10, 20, 50, 200)]
    assert all(k > t for k, t in zip(ks, ts))
    widths = [k / math.sqrt(n) for k, n in zip(ks, (5, 10, 20, 50, 200))]
    assert widths == sorted(widths, reverse=True)


def test_zero_spread_is_exact_in_both_modes():
    assert cs_interval([0.5, 0.5, 0.5]).lo == 0.5 == t_interval([0.5, 0.5, 0.5]).hi


def _false_decision_rates(runs: int, start: int, step: int, stop: int, seed: int = 0):
    """Null effect (true mean 0, boundary 0): share of runs that the t-interval and the
    sequence call decided at some look when seeds are added until one decides."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((runs, stop))
    looks = list(range(start, stop + 1, step))
    t_hit = np.zeros(runs, bool)
    cs_hit = np.zeros(runs, bool)
    for n in looks:
        m = x[:, :n].mean(1)
        sd = x[:, :n].std(1, ddof=1)
        t_hit |= np.abs(m) > stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        cs_hit |= np.abs(m) > cs_halfwidth_factor(n) * sd / math.sqrt(n)
    return t_hit.mean(), cs_hit.mean()


@pytest.mark.parametrize("start, step, stop", [(2, 1, 20), (3, 2, 20), (5, 5, 50)])
def test_optional_stopping_breaks_the_t_interval_not_the_sequence(start, step, stop):
    """The point of part 4: over 4,000 simulated null runs stopped at the first decision,
    the t-interval decides falsely far more than 5% of the time, the sequence at most 5%."""
    t_rate, cs_rate = _false_decision_rates(4000, start, step, stop)
    assert t_rate > 0.05 * 2  # measured 0.19-0.26
    assert cs_rate <= 0.05    # measured 0.01-0.03


def test_until_decided_adds_seeds_until_the_check_decides(ws):
    # x ~ N(1, 0.3): "x >= 0.8" needs several seeds under the sequence
    claim = ws.claim(params={"mean": 1.0, "sd": 0.3},
                     checks=[{"name": "x_above", "metric": "x", "op": "at_least",
                              "ref": 0.8, "why": "toy"}])
    res = ws.run(ws.write(claim), until_decided=True, max_seeds=30)
    seq = res.record["sequential"]
    assert res.verdict == "reproduced" and seq["reason"] == "every check decided"
    assert 4 <= seq["seeds"] <= 30 and seq["looks"][0]["seeds"] == 3
    assert res.record["checks"][0]["groups"][0]["interval"]["method"].startswith("cs95")
    assert len(res.record["units"]) == seq["seeds"]


def test_until_decided_stops_at_the_maximum_when_undecidable(ws):
    claim = ws.claim(params={"mean": 0.8, "sd": 0.3},
                     checks=[{"name": "x_above", "metric": "x", "op": "at_least",
                              "ref": 0.8, "why": "toy: the truth sits on the boundary"}],
                     expect={"smoke": "inconclusive"})
    res = ws.run(ws.write(claim), until_decided=True, max_seeds=6)
    assert res.record["sequential"]["seeds"] == 6
    assert "maximum of 6" in res.record["sequential"]["reason"]


def test_until_decided_below_two_seeds_is_bad_input(ws):
    from repro.errors import UsageError

    with pytest.raises(UsageError, match="at least 2"):
        ws.run(ws.write(ws.claim()), until_decided=True, max_seeds=1)


def test_cli_max_seeds_below_two_is_exit_2(ws, monkeypatch):
    from typer.testing import CliRunner

    from repro.cli import app

    p = ws.write(ws.claim())
    out = CliRunner().invoke(app, ["run", str(p), "--scale", "smoke", "--until-decided",
                                   "--max-seeds", "1", "--results-dir", str(ws.results)])
    assert out.exit_code == 2 and not (ws.results / "toy_claim").exists()
