"""An XLSForm imported as a draft, tried in the phone simulator with nothing stored, published
from the dashboard or the command line (audited alike), and taken up by every process of the
gateway without a restart."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from sqlalchemy import func, select

from gateway.cli.main import cli
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message
from gateway.messaging.sender import ConsoleSender
from gateway.staff.models import AuditEvent
from gateway.surveys.models import Submission
from gateway.surveys.services import import_flow, publish_flow
from gateway.web.app import create_app
from tests.commands import command_env
from tests.phone import Phone, SmsPhone
from tests.staff import csrf_token, make_staff, sign_in, text_of
from tests.web.test_simulator import open_phone
from tests.xlsforms import SITE_SETTINGS, SITE_SURVEY, site_form
from workers.context import WorkerContext, install

VERSION = "site_assessment.v2026030101"


def upload(client: FlaskClient, content: bytes) -> object:
    page = client.get("/dashboard/surveys/").get_data(as_text=True)
    return client.post(
        "/dashboard/surveys/",
        data={"csrf_token": csrf_token(page), "form": (io.BytesIO(content), "sites.xlsx")},
        content_type="multipart/form-data",
    )


def press(client: FlaskClient, path: str) -> object:
    """A button of the Surveys page (a form posting its CSRF token)."""
    page = client.get("/dashboard/surveys/").get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(page)})


def audit_rows(runtime: Runtime) -> list[tuple[str, str, str | None, str | None]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action.like("flow.%")))
        return [(e.actor, e.action, e.object_id, e.detail) for e in rows]


def stored_rows(runtime: Runtime) -> tuple[int, int]:
    with runtime.sessions() as session:
        submissions = session.scalar(select(func.count()).select_from(Submission))
        messages = session.scalar(select(func.count()).select_from(Message))
    return submissions or 0, messages or 0


def test_a_draft_is_tried_in_the_simulator_with_nothing_stored_then_published(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    make_staff(runtime)
    sign_in(client, "manager")

    report = text_of(upload(client, site_form()))  # type: ignore[arg-type]
    assert "site_assessment version 2026030101 importée comme brouillon : 7 questions." in report
    listed = text_of(client.get("/dashboard/surveys/"))
    assert "Version en service : pas encore publiée" in listed
    assert "Brouillon : 2026030101" in listed
    assert "site_assessment" not in runtime.flows  # no household reaches a draft

    opened = press(client, "/dashboard/surveys/site_assessment/preview")
    assert opened.headers["Location"] == "/simulator"  # type: ignore[attr-defined]
    page = text_of(client.get("/simulator"))
    assert "Aperçu du brouillon site_assessment version 2026030101" in page
    number, doors = open_phone(client)
    phone = Phone(doors, number=number)
    assert phone.dial() == "CON Acceptez-vous de repondre?\n1. Oui\n2. Non\n9. English"
    assert phone.send("1").startswith("CON Votre region?")
    for answer in ("1", "2", "12", "1"):
        phone.send(answer)
    assert phone.send("3") == "END Merci pour ces reponses.\nMerci. Vos reponses sont enregistrees."
    assert phone.dial() == "END Merci, vous avez deja repondu a ce sondage."
    # Trying it again starts afresh, here by SMS.
    press(client, "/dashboard/surveys/site_assessment/preview")
    texted = SmsPhone(doors, runtime, run_jobs, number=phone.number)
    texted.post("EVAL")
    texted.post("2")
    replies = doors.client.get("/simulator/messages").get_json()["messages"]
    assert [m["body"] for m in replies] == [
        "Acceptez-vous de répondre?\n1.Oui\n2.Non",
        "Merci. Vos réponses sont enregistrées.",
    ]
    run_jobs()
    assert stored_rows(runtime) == (0, 0)  # no submission, no outbox row: nothing is data

    published = text_of(press(client, "/dashboard/surveys/site_assessment/publish"))  # type: ignore[arg-type]
    assert "site_assessment version 2026030101 publiée : les nouvelles enquêtes" in published
    assert runtime.flows["site_assessment"].version == 2026030101
    assert "Version en service : 2026030101" in published
    assert press(client, "/dashboard/surveys/site_assessment/publish").status_code == 404  # type: ignore[attr-defined]
    # The draft is gone: the simulator runs the published flows again.
    assert "Aperçu du brouillon" not in text_of(client.get("/simulator"))
    assert audit_rows(runtime) == [
        ("user:manager", "flow.import", VERSION, "draft imported from sites.xlsx"),
        ("user:manager", "flow.publish", VERSION, "in service"),
    ]


def test_a_viewer_may_neither_preview_nor_publish(client: FlaskClient, runtime: Runtime) -> None:
    make_staff(runtime)
    sign_in(client, "manager")
    upload(client, site_form())
    other = client.application.test_client()
    sign_in(other, "viewer")

    # The viewer's own token, from a page a viewer may read.
    token = csrf_token(other.get("/dashboard/results/").get_data(as_text=True))
    for action in ("preview", "publish"):
        response = other.post(
            f"/dashboard/surveys/site_assessment/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 403, action
    assert "site_assessment" not in runtime.flows
    assert press(client, "/dashboard/surveys/nothing/preview").status_code == 404  # type: ignore[attr-defined]


def test_a_publish_reaches_another_process_and_a_worker_without_a_restart(
    settings: Settings, redis_client: redis.Redis, client: FlaskClient, runtime: Runtime
) -> None:
    # Another web process and a worker, each with its runtime built before the publish, on the
    # same Redis, database and flows folder.
    other = create_app(settings, client=redis_client)
    worker = Runtime.build(settings, client=redis_client)

    def run_worker() -> int:
        install(WorkerContext(runtime=worker, sender=ConsoleSender(io.StringIO())))
        SimpleWorker([worker.queue], connection=worker.redis).work(burst=True)
        return 0

    make_staff(runtime)
    sign_in(client, "manager")
    upload(client, site_form())
    household = SmsPhone(other.test_client(), worker, run_worker, number="+22376000322")
    assert not household.send("EVAL")[0].startswith("Acceptez")  # a draft: no such keyword yet
    # Nor can a campaign be made on it, in either process.
    browser = other.test_client()
    sign_in(browser, "manager")
    for staff in (client, browser):
        assert 'value="site_assessment"' not in staff.get("/dashboard/campaigns/new").text

    press(client, "/dashboard/surveys/site_assessment/publish")
    time.sleep(1.1)  # each process looks at most once a second

    assert 'value="site_assessment"' in browser.get("/dashboard/campaigns/new").text
    assert household.send("EVAL") == ["Acceptez-vous de répondre?\n1.Oui\n2.Non"]
    assert household.send("1") == ["Votre région?\n1.Mopti\n2.Bamako"]
    # The worker stored the answer under the new flow, read from its own runtime.
    with worker.sessions() as session:
        stored = session.execute(select(Submission.flow, Submission.flow_version)).all()
    assert [tuple(row) for row in stored] == [("site_assessment", 2026030101)]


def test_a_running_process_keeps_a_run_on_its_version_across_a_publish(
    settings: Settings, redis_client: redis.Redis, client: FlaskClient, runtime: Runtime
) -> None:
    routed = replace(settings, ussd_flow="site_assessment")
    import_flow(runtime, "cli", site_form(), "sites.xlsx")
    publish_flow(runtime, "cli", "site_assessment")
    app: Flask = create_app(routed, client=redis_client)
    phone = Phone(app.test_client())
    phone.dial()
    phone.send("1")  # consent, on version 2026030101

    survey = [list(r) for r in SITE_SURVEY]
    survey[4][2] = "Votre région (v2)?"
    newer = [SITE_SETTINGS[0], ["T", "site_assessment", "2026040101", "Français (fr)", "EVAL"]]
    import_flow(runtime, "cli", site_form(survey=survey, settings=newer), "sites.xlsx")
    publish_flow(runtime, "cli", "site_assessment")
    time.sleep(1.1)

    assert phone.send("1").startswith("CON Votre site?")  # the run goes on as it started
    stranger = Phone(app.test_client(), number="+22376999888")
    stranger.dial()
    assert stranger.send("1").startswith("CON Votre region (v2)?")  # same process, no restart


def test_the_command_line_imports_publishes_and_exports_audited_as_the_dashboard(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    settings.flows_folder.mkdir(parents=True, exist_ok=True)
    form = tmp_path / "sites.xlsx"
    form.write_bytes(site_form())
    env = command_env(replace(settings, flows_dir=settings.flows_folder), runtime)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env)

    imported = run("flows", "import", str(form))
    assert imported.exit_code == 0, imported.output
    assert "Imported site_assessment version 2026030101 as a draft: 7 questions in fr, en" in (
        imported.output
    )
    assert "Publish it with: survey-gateway flows publish site_assessment" in imported.output
    published = run("flows", "publish", "site_assessment")
    assert published.exit_code == 0, published.output
    assert published.output == "Published site_assessment version 2026030101.\n"
    again = run("flows", "publish", "site_assessment")
    assert again.exit_code == 1
    assert "no draft of flow 'site_assessment': import its XLSForm first" in again.output
    exported = run("flows", "export", "site_assessment", "-o", str(tmp_path / "out.xlsx"))
    assert exported.exit_code == 0, exported.output
    assert run("flows", "import", str(tmp_path / "bad.xlsx")).exit_code == 2  # no such file

    assert audit_rows(runtime) == [
        ("cli", "flow.import", VERSION, "draft imported from sites.xlsx"),
        ("cli", "flow.publish", VERSION, "in service"),
    ]
    # The running app (another process) takes it up without a restart.
    time.sleep(1.1)
    runtime.refresh_flows()
    assert runtime.flows["site_assessment"].version == 2026030101


@pytest.fixture(autouse=True)
def _flows_folder(settings: Settings) -> None:
    settings.flows_folder.mkdir(parents=True, exist_ok=True)
