"""A short churn soak (bench/churn.py runs the long one): processes start and exit every cycle
under a name: target, 2,500 in all, past the SDK's own 2,000-series limit; memory stays flat and
the reported set stays right."""

from pathlib import Path

from bench.churn import churn


def test_short_churn_soak(tmp_path: Path) -> None:
    r = churn(duration=26, interval="200ms", per_cycle=20, max_series=200, warmup=8,
              workdir=tmp_path)
    assert r.started > 2000 and r.exports >= 80, r
    assert r.reported >= 0.9 * r.started  # each lives three cycles: seen in one at least
    assert r.overflow_points == 0 and r.most_series <= 81  # at most 4 x 20 alive, and itself
    assert not r.wrong and not r.missed, (r.wrong, r.missed)
    assert r.own_start_times == 1  # the series that continues keeps its start time
    assert r.rss_growth_mb < 3, r.rss
