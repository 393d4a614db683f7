"""A short soak (the benchmark runs the long one): memory, threads and descriptors stay flat."""

from pathlib import Path

from bench.soak import soak


def test_short_soak_is_flat(tmp_path: Path) -> None:
    r = soak(duration=24, interval="100ms", warmup=8, every=1, workdir=tmp_path)
    assert r.cycles >= 100
    assert r.threads[0] == r.threads[1], r.threads
    assert r.fds_floor[1] <= r.fds_floor[0], r.fds_floor  # transient opens aside, no growth
    assert r.fds[1] - r.fds[0] <= 3, r.fds
    assert r.rss_growth_mb < 3, r.rss_growth_mb
