"""The native entry points take one config object each
(``racetrace.config``): a field of the wrong type is a TypeError naming
the field, a bad value a ValueError saying what is expected, and nothing
starts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from racetrace import _native
from racetrace.config import RecordConfig, RunConfig
from racetrace.control import _static_tables


def run_config(**fields: object) -> RunConfig:
    base: dict[str, object] = dict(
        path="",
        program="p",
        include=[],
        exclude=[],
        recognized=_static_tables(),
        main_thread=threading.Thread(target=lambda: None),
    )
    base.update(fields)
    return RunConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error", "text"),
    [
        ({"deadlock_timeout": "soon"}, TypeError, "RunConfig.deadlock_timeout"),
        ({"pct": (1, 2)}, TypeError, "RunConfig.pct"),
        ({"deadlock_timeout": -1.0}, ValueError, "deadlock_timeout must be a positive number"),
        ({"schedule": "rts1:x"}, ValueError, "invalid schedule at column 6"),
    ],
)
def test_bad_run_config_is_refused_before_anything_starts(fields, error, text) -> None:
    with pytest.raises(error, match=text):
        _native.control_start(run_config(**fields))
    assert not _native.is_recording()


def test_bad_record_config_is_refused_before_anything_starts(tmp_path: Path) -> None:
    config = RecordConfig(
        path=str(tmp_path / "t.rtrace"),
        program="p",
        include=[],
        exclude=[],
        recognized=_static_tables(),
        running_threads="no",  # type: ignore[arg-type]
    )
    with pytest.raises(TypeError, match="RecordConfig.running_threads"):
        _native.start(config)
    assert not _native.is_recording()
    assert not (tmp_path / "t.rtrace").exists()
