"""How durations read (``mobilenet.duration.format_duration``); the estimate itself is tested
in test_worker.py, beside the server that uses it."""

import pytest

from mobilenet.duration import format_duration


@pytest.mark.parametrize("seconds, shown", [(0, "0 s"), (0.4, "0 s"), (12.6, "13 s"), (59.4, "59 s"),
                                            (59.6, "1:00"), (60, "1:00"), (125, "2:05"), (600, "10:00"),
                                            (4200, "70:00")])
def test_short_durations_in_seconds_longer_ones_in_minutes_and_seconds(seconds, shown):
    assert format_duration(seconds) == shown
