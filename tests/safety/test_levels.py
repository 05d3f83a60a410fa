from gasguard.safety.levels import RiseTracker, level_active


def test_level_comes_in_at_setpoint_and_goes_out_below_hysteresis_band() -> None:
    assert level_active(False, 19.99, 20.0, 2.0) is False
    assert level_active(False, 20.0, 20.0, 2.0) is True
    assert level_active(True, 18.0, 20.0, 2.0) is True
    assert level_active(True, 17.99, 20.0, 2.0) is False


def test_rate_of_rise_needs_half_a_window_then_reports_per_minute() -> None:
    rise = RiseTracker(window_s=60)
    assert rise.update(0.0, 0.0) is None
    assert rise.update(20.0, 2.0) is None  # only 20 s of history
    assert rise.update(30.0, 3.0) == 6.0  # 3 %LEL in 30 s
    assert rise.update(90.0, 9.0) == 6.0  # oldest sample inside the window is t=30


def test_rate_of_rise_discards_history_when_the_clock_steps_back() -> None:
    rise = RiseTracker(window_s=60)
    rise.update(100.0, 0.0)
    rise.update(140.0, 4.0)
    assert rise.update(50.0, 5.0) is None
