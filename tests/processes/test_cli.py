"""The ``survey-gateway`` command, run as a person runs it: real processes, real output.

The end-to-end test starts ``survey-gateway run`` (embedded Redis, SQLite, gunicorn and an RQ
worker), answers the French survey through ``simulate ussd``, reads the answers back with
``export`` and the confirmation SMS with ``outbox``, then stops it all with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
import requests
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
SHIPPED_FLOW = REPO / "flows" / "surveys" / "return_intention.yaml"
PHONE = "+22376123456"
PHONE_DIGITS = "76123456"  # the subscriber part: must never be shown in full
PHONE_MASKED = "+22376****56"
# consent 1 = yes; current region 11 = Bamako; origin 5 = Mopti; household of 6;
# intention 1 = return (so timing is asked and obstacle skipped); timing 2 = in 1-3 months;
# first need 1 = food; second need 3 = household items; then "n": do not dial again.
FRENCH_SURVEY = "1\n11\n5\n6\n1\n2\n1\n3\nn\n"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cli_env(var_dir: Path, port: int | None = None) -> dict[str, str]:
    """This environment without any gateway, Redis, database or AT setting, plus ours."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GATEWAY_", "AT_"))
        and name not in ("REDIS_URL", "DATABASE_URL", "PORT")
    }
    env["GATEWAY_VAR_DIR"] = str(var_dir)
    if port is not None:
        env["PORT"] = str(port)
    return env


def gateway(
    env: dict[str, str], *args: str, stdin: str = "", timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``survey-gateway ARGS`` to completion and capture what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 20
) -> None:
    """Ask ``process`` to stop with ``sig`` (Ctrl-C by default); kill it past ``timeout``."""
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def poll(what: str, attempt: Callable[[], T | None], timeout: float = 20) -> T:
    """Call ``attempt`` until it returns something, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


# -- flows check, keys new, errors ---------------------------------------------------------


def test_flows_check_reports_the_shipped_flows_ok(tmp_path: Path) -> None:
    result = gateway(cli_env(tmp_path / "var"), "flows", "check")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "4 flows OK: enumerator_registration, flow_monitoring, location_assessment,"
        " return_intention"
    )


def test_flows_check_names_file_state_and_problem_of_a_broken_flow(tmp_path: Path) -> None:
    broken = tmp_path / "flows"
    broken.mkdir()
    text = SHIPPED_FLOW.read_text(encoding="utf-8")
    # The origin question points at a list that does not exist.
    text = text.replace("id: return_intention", "id: broken_survey", 1)
    head, tail = text.split("key: origin_region", 1)
    tail = tail.replace("options: {list: regions}", "options: {list: regionz}", 1)
    (broken / "broken_survey.yaml").write_text(head + "key: origin_region" + tail)
    (broken / "not_yaml.yaml").write_text("id: x\nquestions: [\n")

    result = gateway(cli_env(tmp_path / "var"), "flows", "check", "--dir", str(broken))

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(
        "broken_survey.yaml" in line and "'origin_region'" in line and "regionz" in line
        for line in lines
    ), result.stdout
    assert any("not_yaml.yaml" in line and "not valid YAML" in line for line in lines)
    assert "2 problems in the flow files" in result.stderr
    assert "Traceback" not in result.stderr


def test_flows_check_fails_on_any_composed_sms_over_one_segment(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    text = SHIPPED_FLOW.read_text(encoding="utf-8").replace(
        "id: return_intention", "id: wordy_survey", 1
    )
    # The texts of the error line and of the offer as they were: each fits alone, but not
    # with the twelve regions after it.
    text = text.replace(
        'fr: "Non compris: envoyez un numéro."',
        'fr: "Réponse non comprise. Envoyez seulement le numéro de votre choix, ex: 2."',
        1,
    )
    text = text.replace(
        'en: "Call cut. Go on by free SMS:"',
        'en: "The connection was lost. You can continue by SMS, free of charge:"',
        1,
    )
    (folder / "wordy_survey.yaml").write_text(text, encoding="utf-8")

    result = gateway(cli_env(tmp_path / "var"), "flows", "check", "--dir", str(folder))

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        "wordy_survey.yaml: question 'current_region' after the error 'not_a_choice' [fr]:"
        " needs 2 SMS segments (186 of 160 GSM-7 characters)"
    ) in lines
    assert (
        "wordy_survey.yaml: offer 'continue_by_sms' with question 'need_2' [en]:"
        " needs 2 SMS segments (192 of 160 GSM-7 characters)"
    ) in lines
    assert all("wordy_survey.yaml" in line for line in lines), result.stdout
    assert f"{len(lines)} problems in the flow files" in result.stderr


def test_keys_new_prints_a_fernet_key(tmp_path: Path) -> None:
    result = gateway(cli_env(tmp_path / "var"), "keys", "new")

    assert result.returncode == 0
    key = result.stdout.strip()
    Fernet(key.encode())  # raises if it is not a key
    assert gateway(cli_env(tmp_path / "var"), "keys", "new").stdout.strip() != key


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "var") | {"GATEWAY_ENCRYPTION_KEYS": "not-a-key"}

    result = gateway(env, "outbox")

    assert result.returncode == 2
    assert "GATEWAY_ENCRYPTION_KEYS" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_log_level_is_named_with_the_levels_and_exit_2(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "var") | {"GATEWAY_LOG_LEVEL": "verbose"}

    result = gateway(env, "worker")

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: GATEWAY_LOG_LEVEL: 'verbose' is not a level "
        "(one of: DEBUG, INFO, WARNING, ERROR, CRITICAL)"
    )


@pytest.mark.parametrize("region", ["XX", "Mali"])
def test_an_unknown_phone_region_is_named_with_the_regions_and_exit_2(
    tmp_path: Path, region: str
) -> None:
    env = cli_env(tmp_path / "var") | {"GATEWAY_PHONE_REGION": region}

    result = gateway(env, "outbox", "--to", "76 12 34 56")

    assert result.returncode == 2
    assert f"GATEWAY_PHONE_REGION: '{region}' is not a region" in result.stderr
    assert "e.g. ML for Mali" in result.stderr and ", SN, " in result.stderr
    assert "Traceback" not in result.stderr
    # A region in any case is taken, and the local number read with it (the command then
    # stops at the database, never set up here).
    ok = gateway(
        cli_env(tmp_path / "var") | {"GATEWAY_PHONE_REGION": "ml"}, "outbox", "--to", "76 12 34 56"
    )
    assert "GATEWAY_PHONE_REGION" not in ok.stderr and "--to is not" not in ok.stderr
    assert "has no gateway tables" in ok.stderr


def test_export_of_an_unknown_flow_and_outbox_for_a_bad_number_exit_2(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "var")

    export = gateway(env, "export", "--flow", "no_such_survey")
    outbox = gateway(env, "outbox", "--to", "12")

    assert export.returncode == 2
    assert "unknown flow 'no_such_survey'" in export.stderr
    assert "return_intention" in export.stderr
    assert outbox.returncode == 2
    assert "--to is not a phone number" in outbox.stderr


def test_simulate_says_so_when_no_gateway_is_running(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = gateway(cli_env(tmp_path / "var"), "simulate", "ussd", "--url", url, stdin="1\n")

    assert result.returncode == 1
    assert f"cannot reach the gateway at {url}" in result.stderr
    assert "is `make run`" in result.stderr
    assert "give its address with --url" in result.stderr


# -- run, end to end -----------------------------------------------------------------------


@pytest.fixture
def running_gateway(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """``survey-gateway run`` on a free port with its own var folder; killed whatever happens."""
    port = free_port()
    var = tmp_path / "var"
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run"],
            env=cli_env(var, port),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    family: list[psutil.Process] = []
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool | None:
            if process.poll() is not None:
                pytest.fail(f"run exited with {process.returncode}:\n{log.read_text()}")
            try:
                return requests.get(base + "/healthz", timeout=1).status_code == 200 or None
            except requests.RequestException:
                return None

        poll("/healthz to answer 200", healthy, timeout=30)
        family = psutil.Process(process.pid).children(recursive=True)
        yield process, base, log
    finally:
        if process.poll() is None:
            family += psutil.Process(process.pid).children(recursive=True)
            # Ctrl-C first, so the embedded Redis is stopped too; then no more asking.
            stop_process(process)
        for member in family:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass


def test_run_serves_a_whole_survey_and_stops_on_ctrl_c(
    running_gateway: tuple[subprocess.Popen[bytes], str, Path], tmp_path: Path
) -> None:
    run, base, log = running_gateway
    env = cli_env(tmp_path / "var")
    children = psutil.Process(run.pid).children(recursive=True)
    commands = [" ".join(child.cmdline()) for child in children]
    # By command line, or by the title gunicorn and RQ give their processes (with setproctitle).
    assert any("gateway.cli serve" in c or "gunicorn: master" in c for c in commands)
    assert any("gateway.cli worker" in c or c.startswith("rq:worker:") for c in commands)
    # No GATEWAY_WEBHOOK_TOKEN in development: the banner says anyone may post to the callbacks.
    banner = poll(
        "run's banner", lambda: log.read_text() if "is running" in log.read_text() else None
    )
    assert "Callbacks are ACCEPTED WITHOUT A TOKEN" in banner

    # A household answers the whole survey in French on the simulated phone.
    phone = gateway(env, "simulate", "ussd", "--url", base, "--phone", PHONE, stdin=FRENCH_SURVEY)

    assert phone.returncode == 0, phone.stderr
    assert "Region ou vit votre menage" in phone.stdout
    assert "Merci. Vos reponses sont enregistrees" in phone.stdout
    assert phone.stdout.rstrip().endswith("Dial again? [y/N] n")
    assert PHONE_DIGITS not in phone.stdout

    # The worker stores the answers: the export shows them as codes, by pseudonym.
    def completed_rows() -> list[dict[str, str]] | None:
        export = gateway(env, "export", "--flow", "return_intention")
        assert export.returncode == 0, export.stderr
        rows = list(csv.DictReader(io.StringIO(export.stdout)))
        if rows and rows[0]["status"] == "completed":
            assert PHONE_DIGITS not in export.stdout
            return rows
        return None

    rows = poll("the completed submission in the export", completed_rows)
    assert len(rows) == 1
    answers = {
        key: rows[0][key]
        for key in (
            "consent",
            "current_region",
            "origin_region",
            "household_size",
            "intention",
            "timing",
            "obstacle",
            "need_1",
            "need_2",
        )
    }
    assert answers == {
        "consent": "yes",
        "current_region": "bamako",
        "origin_region": "mopti",
        "household_size": "6",
        "intention": "return",
        "timing": "1_3m",
        "obstacle": "",
        "need_1": "food",
        "need_2": "nfi",
    }
    assert rows[0]["channel"] == "ussd"
    assert rows[0]["language"] == "fr"
    assert len(rows[0]["respondent"]) == 64  # a pseudonym, not a number

    # The confirmation SMS is recorded (no AT credentials), shown with the number masked.
    def recorded_confirmation() -> str | None:
        outbox = gateway(env, "outbox")
        assert outbox.returncode == 0, outbox.stderr
        # One block per message: a line of time, number, kind and status, then the body.
        blocks = [b for b in outbox.stdout.split("\n\n") if "  confirmation  " in b]
        return blocks[0] if blocks and "  recorded" in blocks[0].splitlines()[0] else None

    block = poll("the confirmation in the outbox", recorded_confirmation)
    assert PHONE_MASKED in block.splitlines()[0]
    assert "Reference:" in block
    assert PHONE_DIGITS not in block
    # --to takes the number as people write it in Mali, and filters on it.
    assert "confirmation" in gateway(env, "outbox", "--to", "76 12 34 56").stdout
    assert "No outbound messages" in gateway(env, "outbox", "--to", "+22376000000").stdout

    # Another household answers by SMS on the simulated phone; replies come from the worker.
    texter = gateway(
        env,
        "simulate",
        "sms",
        "--url",
        base,
        "--phone",
        "+22376555555",
        "--wait",
        "10",
        stdin="ENQUETE\noui\n11\n5\n6\n2\n1\n1\naucun\n",
    )
    assert texter.returncode == 0, texter.stderr
    assert "Région où vit votre ménage maintenant?" in texter.stdout
    # The last answer gets the confirmation alone: the survey's own thanks would repeat it.
    assert texter.stdout.count("OIM/DNDS: merci, vos reponses sont") == 1
    assert "Reference:" in texter.stdout
    assert "Merci. Vos réponses sont enregistrées." not in texter.stdout
    assert "76555555" not in texter.stdout

    def two_completed() -> list[dict[str, str]] | None:
        export = gateway(env, "export", "--flow", "return_intention")
        rows = list(csv.DictReader(io.StringIO(export.stdout)))
        done = [r for r in rows if r["status"] == "completed"]
        return done if len(done) == 2 else None

    by_sms = [r for r in poll("the SMS submission", two_completed) if r["channel"] == "sms"]
    assert [(r["intention"], r["obstacle"], r["need_2"]) for r in by_sms] == [
        ("stay", "insecurity", "none")
    ]

    # Without --url and without PORT, simulate finds the gateway `run` started on its port;
    # the erasure's confirmation is shown, though the outbox keeps nothing of it.
    eraser = gateway(
        cli_env(tmp_path / "var"),
        "simulate",
        "sms",
        "--phone",
        "+22376555555",
        "--wait",
        "10",
        stdin="EFFACER\n",
    )
    assert eraser.returncode == 0, eraser.stderr
    shown = " ".join(line.strip("|+- ") for line in eraser.stdout.splitlines())
    assert "Vos réponses et votre numéro ont été effacés." in shown
    assert "(no reply)" not in eraser.stdout
    assert "No outbound messages" in gateway(env, "outbox", "--to", "+22376555555").stdout

    # Ctrl-C stops the web server, the worker and their own children, then Redis.
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=15) == 0
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    assert not (tmp_path / "var" / "redis.sock").exists()
    assert not (tmp_path / "var" / "web-server.url").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/healthz", timeout=1)

    output = log.read_text()
    assert "ONLY RECORDED" in output
    assert f"{base}/ussd" in output
    assert f"SMS to {PHONE_MASKED}" in output  # the console sender printed it
    assert PHONE_DIGITS not in output
