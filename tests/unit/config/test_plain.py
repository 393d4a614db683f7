"""The plain Config travels to the re-executed runner as JSON, whole."""

from __future__ import annotations

from agent.config.plain import Config
from tests.unit.rig import config


def test_it_round_trips_through_json() -> None:
    cfg = config(headers="authorization=Bearer x", source_intervals={"filesystem": "60s"})
    again = Config.from_json(cfg.to_json())
    assert again == cfg and again.headers == {"authorization": "Bearer x"}
    assert cfg.replace(exporter="otlp").exporter == "otlp"
