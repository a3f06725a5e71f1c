from __future__ import annotations

import csv
import io
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import gateway.results.export
import gateway.results.export_rows
from flows import FlowError, load_flows
from flows.loader import build_flow
from gateway.cli.main import cli
from gateway.core.crypto import NumberCipher, pseudonymise
from gateway.messaging.models import MessageStatus
from gateway.messaging.outbox import OutboxRow, outbox_rows
from gateway.results.export import (
    EXPORT_COLUMNS,
    export_chunks,
    export_csv,
    export_filename,
    export_hxl,
    export_xlsx,
    hxl_hashtags,
    write_export,
)
from gateway.results.selection import SubmissionFilter, parse_filter
from gateway.surveys.persistence import RunSnapshot, create_message, sync_submission
from tests.households import add, answers, campaign, snapshot
from tests.processes.test_cli import cli_env

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
AMINATA = "+22376123456"
MOUSSA = "+22366987654"
KEYS = ["consent", "return_when", "return_where"]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def pseudonym(number: str) -> str:
    return pseudonymise(number, "test-secret")


def run(
    run_id: str,
    number: str,
    start: float,
    answers: dict[str, str],
    *,
    status: str = "active",
    flow: str = "return_intention",
    expires_in: float = 60 * 48,
    channel: str = "ussd",
) -> RunSnapshot:
    """A run started ``start`` minutes after T0, answered one step a minute."""
    steps = {
        key: (value, i + 1, at(start + i + 1)) for i, (key, value) in enumerate(answers.items())
    }
    end = at(start + len(answers))
    return RunSnapshot(
        run_id=run_id,
        respondent_id=pseudonym(number),
        flow=flow,
        flow_version=2,
        channel=channel,
        language="fr",
        status=status,  # type: ignore[arg-type]
        started_at=at(start),
        updated_at=end,
        expires_at=at(start + expires_in),
        completed_at=end if status != "active" else None,
        answers=steps,
    )


def export(session: Session, keys: list[str] = KEYS, flow: str = "return_intention") -> list[str]:
    out = io.StringIO(newline="")
    count = export_csv(session, flow, keys, out, NOW)
    text = out.getvalue()
    lines = text.splitlines()
    assert count == len(lines) - 1
    return lines


def test_export_header_rows_and_codes(db_session: Session) -> None:
    # Saved out of order: the export orders by start time.
    sync_submission(
        db_session,
        run("run-2", MOUSSA, 30, {"consent": "1", "return_when": "3"}, channel="sms"),
    )
    sync_submission(
        db_session,
        run(
            "run-1",
            AMINATA,
            0,
            {"consent": "1", "return_when": "2", "return_where": "4"},
            status="completed",
        ),
    )
    sync_submission(db_session, run("run-3", AMINATA, 60, {"consent": "2"}, status="declined"))
    sync_submission(db_session, run("other", MOUSSA, 10, {"consent": "1"}, flow="other_flow"))
    db_session.commit()

    lines = export(db_session)
    assert lines == [
        "submission_id,respondent,flow,flow_version,channel,enumerator,language,status,campaign,"
        "wave,started_at,completed_at,consent,return_when,return_where",
        f"run-1,{pseudonym(AMINATA)},return_intention,2,ussd,,fr,completed,,,"
        "2025-03-01T09:00:00Z,2025-03-01T09:03:00Z,1,2,4",
        f"run-2,{pseudonym(MOUSSA)},return_intention,2,sms,,fr,started,,,"
        "2025-03-01T09:30:00Z,,1,3,",
        f"run-3,{pseudonym(AMINATA)},return_intention,2,ussd,,fr,declined,,,"
        "2025-03-01T10:00:00Z,2025-03-01T10:01:00Z,2,,",
    ]
    text = "\n".join(lines)
    for number in (AMINATA, MOUSSA):
        assert number[4:] not in text  # not even the national digits


def test_export_shows_expired_for_abandoned_runs(db_session: Session) -> None:
    sync_submission(db_session, run("stale", AMINATA, 0, {"consent": "1"}, expires_in=5))
    sync_submission(db_session, run("live", MOUSSA, 1, {"consent": "1"}))
    sync_submission(
        db_session, run("done", MOUSSA, 2, {"consent": "1"}, status="completed", expires_in=5)
    )
    db_session.commit()
    statuses = [line.split(",")[7] for line in export(db_session)[1:]]
    assert statuses == ["expired", "started", "completed"]


def test_export_orders_columns_as_asked_and_ignores_other_answers(db_session: Session) -> None:
    sync_submission(
        db_session,
        run("run-1", AMINATA, 0, {"consent": "1", "return_when": "2", "return_where": "4"}),
    )
    db_session.commit()
    lines = export(db_session, keys=["return_where", "consent"])
    assert lines[0].endswith("completed_at,return_where,consent")
    assert lines[1].endswith(",4,1")
    assert export(db_session, keys=[])[1].endswith("2025-03-01T09:00:00Z,")


def test_export_of_an_empty_flow_is_just_the_header(db_session: Session) -> None:
    lines = export(db_session, flow="nobody_answered")
    assert len(lines) == 1


def test_export_streams_across_batches(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.results.export_rows, "EXPORT_BATCH", 4)
    for i in range(11):
        sync_submission(
            db_session,
            run(f"run-{i:02d}", AMINATA, i, {"consent": "1", "return_when": str(i % 3)}),
        )
    db_session.commit()
    lines = export(db_session)
    assert [line.split(",")[0] for line in lines[1:]] == [f"run-{i:02d}" for i in range(11)]
    assert [line.split(",")[-2] for line in lines[1:]] == [str(i % 3) for i in range(11)]


def test_export_defuses_spreadsheet_formulas(db_session: Session) -> None:
    sync_submission(
        db_session,
        run("run-1", AMINATA, 0, {"consent": "=HYPERLINK(1)", "return_when": "-2"}),
    )
    db_session.commit()
    out = io.StringIO(newline="")
    export_csv(db_session, "return_intention", KEYS, out, NOW)
    out.seek(0)
    row = list(csv.reader(out))[1]
    assert row[-3:] == ["'=HYPERLINK(1)", "-2", ""]


def test_export_refuses_clashing_or_repeated_keys(db_session: Session) -> None:
    with pytest.raises(ValueError):
        export_csv(db_session, "f", ["status"], io.StringIO(), NOW)
    with pytest.raises(ValueError):
        export_csv(db_session, "f", ["a", "a"], io.StringIO(), NOW)


def test_outbox_rows_newest_first_masked(db_session: Session) -> None:
    cipher = NumberCipher([Fernet.generate_key().decode()])
    sync_submission(db_session, run("run-1", AMINATA, 0, {"consent": "1"}, status="completed"))
    db_session.commit()
    for i, (number, kind) in enumerate([(AMINATA, "confirmation"), (MOUSSA, "notice")]):
        message = create_message(
            db_session,
            submission_id="run-1" if kind == "confirmation" else None,
            respondent_id=pseudonym(number),
            kind=kind,
            to_e164=number,
            body=f"body {i}",
            cipher=cipher,
        )
        message.created_at = at(i)
    db_session.commit()

    everything = outbox_rows(db_session, None, 10)
    assert [row.kind for row in everything] == ["notice", "confirmation"]
    assert everything[1] == OutboxRow(
        created_at=at(0),
        to_masked="+22376****56",
        kind="confirmation",
        status=MessageStatus.QUEUED,
        body="body 0",
        provider_id=None,
        error=None,
    )
    assert [row.body for row in outbox_rows(db_session, pseudonym(MOUSSA), 10)] == ["body 1"]
    assert len(outbox_rows(db_session, None, 1)) == 1
    assert outbox_rows(db_session, "nobody", 10) == []


# -- formats, filters, file names -------------------------------------------------------------


FLOW = load_flows()["return_intention"]
HOUSEHOLD = answers("bamako", "mopti", 6, "return", "food", "shelter")


def csv_rows(session: Session, **options: Any) -> list[list[str]]:
    out = io.StringIO(newline="")
    write_export(session, FLOW, "csv", out, NOW, **options)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_xlsx_has_the_csv_columns_and_values(db_session: Session) -> None:
    add(db_session, [HOUSEHOLD, answers("gao", "kidal", 12, "stay", "wash", "none")])
    out = io.BytesIO()
    count = write_export(db_session, FLOW, "xlsx", out, NOW)
    assert count == 2

    sheet = load_workbook(io.BytesIO(out.getvalue()), read_only=True)["return_intention"]
    got = [list(row) for row in sheet.iter_rows(values_only=True)]
    expected = csv_rows(db_session)
    assert got[0] == expected[0]
    version = expected[0].index("flow_version")
    size = expected[0].index("household_size")
    started = expected[0].index("started_at")
    for got_row, csv_row in zip(got[1:], expected[1:], strict=True):
        # Whole numbers are numbers, times are dates (UTC); empty cells are empty; everything
        # else the same text.
        assert got_row[version] == 1 and got_row[size] in (6, 12)
        for column in (started, started + 1):
            moment = got_row[column]
            assert isinstance(moment, datetime)
            assert moment.isoformat() + "Z" == csv_row[column]
            got_row[column] = csv_row[column]
        assert [("" if v is None else str(v)) for v in got_row] == csv_row
    assert got[1][expected[0].index("intention")] == "return"
    assert got[1][expected[0].index("current_region_pcode")] == "ML09"  # Bamako


def test_xlsx_keeps_its_header_in_view_and_carries_the_codebook(db_session: Session) -> None:
    add(db_session, [HOUSEHOLD])
    out = io.BytesIO()
    write_export(db_session, FLOW, "xlsx", out, NOW)
    book = load_workbook(io.BytesIO(out.getvalue()))
    assert book.sheetnames == ["return_intention", "codebook"]
    data = book["return_intention"]
    assert data.freeze_panes == "A2"
    started = EXPORT_COLUMNS.index("started_at") + 1
    assert data.cell(2, started).number_format == "yyyy-mm-dd hh:mm:ss"
    assert data.cell(2, started).is_date

    codebook = book["codebook"]
    assert codebook.freeze_panes == "A2"
    rows = [["" if v is None else v for v in row] for row in codebook.iter_rows(values_only=True)]
    assert rows[0] == [
        "question",
        "type",
        "text_fr",
        "text_en",
        "option",
        "label_fr",
        "label_en",
        "pcode",
    ]
    assert next(row for row in rows if row[0] == "household_size")[1] == "integer"
    assert [
        "current_region",
        "",
        "",
        "",
        "tombouctou",
        "Tombouctou",
        "Timbuktu",
        "ML06",
    ] in rows
    assert ["need_2", "", "", "", "none", "Aucun", "None", ""] in rows
    question = next(row for row in rows if row[0] == "intention" and row[1] == "choice")
    assert question[2:4] == [
        "Que souhaite faire votre ménage?",
        "What does your household want to do?",
    ]
    assert any(row[0] == "current_region_pcode" and row[1] == "pcode" for row in rows)


def test_labelled_exports_write_labels_in_the_chosen_language(db_session: Session) -> None:
    add(db_session, [answers("tombouctou", "menaka", 6, "return", "food", "none")])
    coded = dict(zip(*csv_rows(db_session), strict=True))
    french = dict(zip(*csv_rows(db_session, labels="fr"), strict=True))
    english = dict(zip(*csv_rows(db_session, labels="en"), strict=True))

    assert coded["current_region"] == "tombouctou" and coded["intention"] == "return"
    assert french["current_region"] == "Tombouctou" and english["current_region"] == "Timbuktu"
    assert french["intention"] == "Retourner au lieu d'origine"
    assert english["intention"] == "Return to place of origin"
    assert french["need_2"] == "Aucun" and english["need_2"] == "None"
    assert french["household_size"] == english["household_size"] == "6"
    # P-codes are the same whatever the language; Ménaka has none (see admin1_pcodes.yaml).
    for row in (coded, french, english):
        assert row["current_region_pcode"] == "ML06" and row["origin_region_pcode"] == ""
    assert french["status"] == "completed"  # the fixed columns stay as they are
    with pytest.raises(ValueError, match="language"):
        csv_rows(db_session, labels="de")


def test_region_columns_carry_ocha_pcodes_tagged_as_hxl_has_it(db_session: Session) -> None:
    add(db_session, [answers("segou", "kayes", 3, "stay", "food", "none")])
    out = io.StringIO(newline="")
    write_export(db_session, FLOW, "hxl", out, NOW)
    header, tags, data = list(csv.reader(io.StringIO(out.getvalue())))
    at = header.index("current_region")
    assert header[at : at + 4] == [
        "current_region",
        "current_region_pcode",
        "origin_region",
        "origin_region_pcode",
    ]
    assert tags[at : at + 4] == [
        "#adm1+current",
        "#adm1+current+code",
        "#adm1+origin",
        "#adm1+origin+code",
    ]
    assert data[at : at + 4] == ["segou", "ML04", "kayes", "ML01"]
    labelled = io.StringIO(newline="")
    write_export(db_session, FLOW, "hxl", labelled, NOW, labels="fr")
    _, tags, data = list(csv.reader(io.StringIO(labelled.getvalue())))
    assert tags[at : at + 2] == ["#adm1+current+name", "#adm1+current+code"]
    assert data[at : at + 2] == ["Ségou", "ML04"]


def test_xlsx_neutralises_formulas_and_drops_control_characters(db_session: Session) -> None:
    sync_submission(
        db_session,
        snapshot(
            "evil-0001",
            {
                "consent": '=HYPERLINK("http://x")',
                "current_region": "\x01=1+1",
                "origin_region": "-3",
            },
        ),
    )
    db_session.commit()
    out = io.BytesIO()
    export_xlsx(
        db_session, "return_intention", ["consent", "current_region", "origin_region"], out, NOW
    )
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None
    row = [cell for cell in sheet[2]][-3:]
    assert [cell.value for cell in row] == ['\'=HYPERLINK("http://x")', "'=1+1", -3]
    assert all(cell.data_type != "f" for cell in row)


def test_hxl_export_has_a_hashtag_row(db_session: Session) -> None:
    add(db_session, [HOUSEHOLD])
    out = io.StringIO(newline="")
    assert write_export(db_session, FLOW, "hxl", out, NOW) == 1
    header, tags, data = list(csv.reader(io.StringIO(out.getvalue())))
    tagged = dict(zip(header, tags, strict=True))
    assert tagged["submission_id"] == "#meta+id"
    assert tagged["respondent"] == "#meta+respondent"
    assert tagged["started_at"] == "#date+start"
    assert tagged["current_region"] == "#adm1+current"  # our codes; P-codes are +code
    assert tagged["current_region_pcode"] == "#adm1+current+code"
    assert tagged["origin_region_pcode"] == "#adm1+origin+code"
    assert tagged["household_size"] == "#affected+ind+idps"
    assert tagged["intention"] == "#indicator+intention"  # no hxl in the flow: the default
    assert tagged["need_1"] == "#indicator+need+first"
    assert all(re.fullmatch(r"#[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*", tag) for tag in tags)
    assert data[header.index("current_region")] == "bamako"


def test_a_flow_declares_its_own_hashtags(db_session: Session) -> None:
    text = (
        Path(gateway.results.export.__file__)
        .parents[2]
        .joinpath("flows", "surveys", "return_intention.yaml")
        .read_text(encoding="utf-8")
    )
    raw = yaml.safe_load(text)
    raw["questions"][4]["hxl"] = "#indicator+return_intention"
    assert hxl_hashtags(build_flow(raw))["intention"] == "#indicator+return_intention"
    raw["questions"][4]["hxl"] = "intention"  # not a hashtag
    with pytest.raises(FlowError, match="hxl"):
        build_flow(raw)
    out = io.StringIO(newline="")
    export_hxl(db_session, "f", ["9lives"], out, NOW)  # an attribute starts with a letter
    assert out.getvalue().splitlines()[1].endswith(",#indicator+q_9lives")


def test_exports_filter_by_period_and_campaign(db_session: Session) -> None:
    ids = add(db_session, [HOUSEHOLD] * 5)  # one an hour from T0 (1 March 09:00 UTC)
    since = SubmissionFilter(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [row[0] for row in csv_rows(db_session, selection=since)[1:]] == ids[1:3]
    campaign(db_session, "camp-9", [ids[0], ids[4], None])
    reached = SubmissionFilter(campaign_id="camp-9")
    assert [row[0] for row in csv_rows(db_session, selection=reached)[1:]] == [ids[0], ids[4]]
    both = SubmissionFilter(since=T0 + timedelta(hours=1), campaign_id="camp-9")
    assert [row[0] for row in csv_rows(db_session, selection=both)[1:]] == [ids[4]]
    assert csv_rows(db_session, selection=SubmissionFilter(campaign_id="nope"))[1:] == []


def test_days_typed_by_people_cover_whole_days() -> None:
    march = parse_filter("2025-03-01", "2025-03-31")
    assert march.since == datetime(2025, 3, 1, tzinfo=UTC)
    assert march.until == datetime(2025, 4, 1, tzinfo=UTC)
    exact = parse_filter("2025-03-01T10:00:00+02:00", "2025-03-02T00:00:00Z")
    assert exact.since == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert exact.until == datetime(2025, 3, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="2025-03-31"):
        parse_filter("mars", None)
    with pytest.raises(ValueError, match="before"):
        parse_filter("2025-03-02", "2025-03-01")


def test_export_filenames_are_safe() -> None:
    day = date(2025, 3, 31)
    assert export_filename("return_intention", "csv", day) == "return_intention_2025-03-31.csv"
    assert export_filename("return_intention", "xlsx", day) == "return_intention_2025-03-31.xlsx"
    assert export_filename("return_intention", "hxl", day) == "return_intention_2025-03-31.hxl.csv"
    labelled = export_filename("return_intention", "csv", day, "fr")
    assert labelled == "return_intention_2025-03-31_labels_fr.csv"
    for bad_language in ("../x", "FR", "f r", ""):
        with pytest.raises(ValueError):
            export_filename("return_intention", "csv", day, bad_language or "1")
    for bad in ("../../etc/passwd", "a/b", "Return", "", "x" * 65, 'a"b', "a\r\nb", "1abc"):
        with pytest.raises(ValueError):
            export_filename(bad, "csv", day)
    with pytest.raises(ValueError):
        export_filename("return_intention", "exe", day)


def test_download_chunks_are_the_export(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.results.export, "STREAM_CHUNK", 300)
    add(db_session, [HOUSEHOLD] * 6)
    chunks = list(export_chunks(db_session, FLOW, "csv", NOW))
    assert len(chunks) > 2  # it streams
    out = io.StringIO(newline="")
    write_export(db_session, FLOW, "csv", out, NOW)
    assert b"".join(chunks).decode("utf-8") == out.getvalue()
    hxl = b"".join(export_chunks(db_session, FLOW, "hxl", NOW)).decode("utf-8")
    assert hxl.splitlines()[1].startswith("#meta+id,")
    xlsx = b"".join(export_chunks(db_session, FLOW, "xlsx", NOW))
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True)["return_intention"]
    assert sheet is not None and len(list(sheet.iter_rows())) == 7


# -- the command ------------------------------------------------------------------------------


def survey_gateway(database_url: str, tmp_path: Path, *args: str) -> Result:
    env = {"GATEWAY_VAR_DIR": str(tmp_path / "cli-var"), "DATABASE_URL": database_url}
    return CliRunner().invoke(cli, list(args), env=env)


def test_export_command_formats_and_filters(
    db_session: Session, database_url: str, tmp_path: Path
) -> None:
    ids = add(db_session, [HOUSEHOLD] * 20)  # 1 March 09:00 UTC to 2 March 04:00
    target = tmp_path / "out.xlsx"
    made = survey_gateway(
        database_url,
        tmp_path,
        "export",
        "--flow",
        "return_intention",
        "--format",
        "xlsx",
        "--output",
        str(target),
    )
    assert made.exit_code == 0, made.output
    assert "20 submissions written to" in made.stderr
    sheet = load_workbook(target, read_only=True).active
    assert sheet is not None and len(list(sheet.iter_rows())) == 21

    hxl = survey_gateway(
        database_url,
        tmp_path,
        "export",
        "--flow",
        "return_intention",
        "--format",
        "hxl",
        "--since",
        "2025-03-02",
    )
    assert hxl.exit_code == 0, hxl.output
    lines = hxl.stdout.splitlines()
    assert lines[1].startswith("#meta+id,") and len(lines) == 2 + 5
    assert [line.split(",")[0] for line in lines[2:]] == ids[15:]

    campaign(db_session, "camp-3", ids[:2])
    reached = survey_gateway(
        database_url,
        tmp_path,
        "export",
        "--flow",
        "return_intention",
        "--campaign",
        "camp-3",
        "--until",
        "2025-03-01",
    )
    assert reached.exit_code == 0, reached.output
    assert [line.split(",")[0] for line in reached.stdout.splitlines()[1:]] == ids[:2]

    bad = survey_gateway(
        database_url, tmp_path, "export", "--flow", "return_intention", "--until", "soon"
    )
    assert bad.exit_code == 2 and "2025-03-31" in bad.output


def test_export_command_writes_no_workbook_to_a_terminal(
    db_session: Session, database_url: str, tmp_path: Path
) -> None:
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "export",
                "--flow",
                "return_intention",
                "--format",
                "xlsx",
            ],
            stdout=secondary,
            stderr=subprocess.PIPE,
            env=cli_env(tmp_path / "var") | {"DATABASE_URL": database_url},
            timeout=60,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert done.returncode == 2
    assert b"--output" in done.stderr


def test_export_to_a_terminal_shows_control_characters_and_a_pipe_keeps_them(
    db_session: Session, database_url: str, tmp_path: Path
) -> None:
    given = answers("bamako", "mopti", 6, "return", "food", "nfi")
    given["need_2"] = "\x1b]0;owned\x07\x1b[2Jnfi\rX"  # an answer that rewrites a terminal
    (run_id,) = add(db_session, [given])
    command = [sys.executable, "-m", "gateway.cli", "export", "--flow", "return_intention"]
    env = cli_env(tmp_path / "var") | {"DATABASE_URL": database_url}

    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(
            command, stdout=secondary, stderr=subprocess.PIPE, env=env, timeout=60
        )
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0, done.stderr
    assert b"\x1b" not in shown and b"\x07" not in shown
    header, row = shown.decode().splitlines()
    assert header.startswith("submission_id,")
    assert row.startswith(run_id + ",")
    assert row.endswith(',food,"?]0;owned??[2Jnfi?X"')

    piped = subprocess.run(command, capture_output=True, env=env, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.split(b"\r\n")[1].endswith(b',food,"\x1b]0;owned\x07\x1b[2Jnfi\rX"')
