"""The fault suite's checks read the fake AT's log as they say (``make faults`` relies on them)."""

from __future__ import annotations

from tests.at_server import ReceivedRequest
from tests.faults.checks import opted_out_texted, peak_rate, resumed, table, texted_twice
from tests.faults.scenario import STOP_CONFIRMATION, Fault

A, B = "+22376000001", "+22376000002"


def sms(to: str, at: float, answer: str = "sent", message: str = "Invitation") -> ReceivedRequest:
    """One SMS as the fake AT logged it."""
    form = {"to": to, "message": message}
    return ReceivedRequest("POST", "/version1/messaging", form, {}, at, answer)


def test_a_retry_after_http_500_is_not_texting_twice_but_after_a_drop_it_is() -> None:
    assert texted_twice([sms(A, 1.0, "http_500"), sms(A, 2.0)]).verdict == "PASS"
    twice = texted_twice([sms(A, 1.0, "drop"), sms(A, 2.0), sms(B, 2.0)])
    assert (twice.figure, twice.verdict) == ("1", "FAIL")


def test_peak_rate_counts_sends_within_one_second() -> None:
    paced = [sms(f"+2237600{i:04d}", i * 0.2) for i in range(20)]
    assert peak_rate(paced, frozenset(r.form["to"] for r in paced), 5.0).figure == "5"
    # The limiter kept its pace; the first send reached AT 20 ms late: not a send too many.
    late = [sms(r.form["to"], r.received_at + (0.02 if i == 0 else 0)) for i, r in enumerate(paced)]
    assert peak_rate(late, frozenset(r.form["to"] for r in late), 5.0).verdict == "PASS"
    burst = [sms(f"+2237600{i:04d}", 10 + i * 0.01) for i in range(6)]
    numbers = frozenset(r.form["to"] for r in paced + burst)
    check = peak_rate(paced + burst, numbers, 5.0)
    assert check.verdict == "FAIL"
    assert check.figure.startswith("6 at ")  # and the time of day it happened
    assert peak_rate(paced + burst, numbers, 5.0, until=10.0).verdict == "PASS"


def test_an_opted_out_number_may_only_get_its_stop_confirmation() -> None:
    confirmation = sms(A, 1.0, message=f"{STOP_CONFIRMATION} de messages.")
    assert opted_out_texted("x", [confirmation], frozenset({A}), since=0).verdict == "PASS"
    invited = opted_out_texted("x", [confirmation, sms(A, 5.0)], frozenset({A}), since=0)
    assert (invited.figure, invited.verdict) == ("1 of 1", "FAIL")


def test_resume_is_measured_before_the_next_fault() -> None:
    fault = Fault("Redis", started=10.0, ended=12.0, campaign_pending=True)
    log = [sms(A, 11.0), sms(A, 20.0, "http_500"), sms(A, 21.5)]
    assert resumed(fault, None, log, frozenset({A})).figure == "9.5 s"
    silent = resumed(fault, 50.0, log[:2], frozenset({A}))
    assert (silent.figure, silent.verdict) == ("> 38 s", "FAIL")


def test_the_table_has_one_line_per_check_and_no_number() -> None:
    rows = [texted_twice([sms(A, 1.0, "drop"), sms(A, 2.0)])]
    text = table(rows)
    assert len(text.splitlines()) == 3
    assert "FAIL" in text and A not in text
