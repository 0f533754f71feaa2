"""The restart policy of `haven up`: backoff per crash in a row, reset by a healthy run."""

from __future__ import annotations

from deploy.local.supervision import RestartPolicy, after_exit, describe, exit_reason

POLICY = RestartPolicy(first_s=1.0, factor=2.0, max_s=30.0, healthy_after_s=60.0)


def test_crashes_in_a_row_double_the_delay_up_to_the_cap() -> None:
    crashes, delays = 0, []
    for _ in range(7):
        restart = after_exit(POLICY, returncode=1, ran_for_s=2.0, crashes_before=crashes)
        crashes = restart.crashes
        delays.append(restart.delay_s)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_a_healthy_run_starts_the_backoff_over() -> None:
    restart = after_exit(POLICY, returncode=-9, ran_for_s=61.0, crashes_before=6)
    assert (restart.crashes, restart.delay_s) == (1, 1.0)


def test_exit_reasons_name_the_signal_or_the_code() -> None:
    assert exit_reason(-9) == "killed by SIGKILL"
    assert exit_reason(-15) == "killed by SIGTERM"
    assert exit_reason(3) == "exited with code 3"
    assert exit_reason(-200) == "killed by signal 200"


def test_the_line_up_prints_says_what_happened_and_what_comes_next() -> None:
    restart = after_exit(POLICY, returncode=-9, ran_for_s=12.4, crashes_before=1)
    assert describe("matching", restart, ran_for_s=12.4) == (
        "matching killed by SIGKILL after 12s; restarting in 2s (crash 2 in a row)")
