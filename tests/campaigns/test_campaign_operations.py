"""Each staff operation on campaigns, done through the API, the dashboard and the command line,
leaves the same rows and the same audit entries (who did it aside): the three surfaces only
read their input, call ``gateway.campaigns.services``, and show what it returns.

Adding contacts to a campaign is offered by the API and the command line only: the dashboard
has no page for it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from gateway.campaigns.models import Campaign, CampaignContact, CampaignImport
from gateway.cli.campaigns import campaign as campaign_command
from gateway.core.redis_client import url_of
from gateway.core.runtime import Runtime
from gateway.staff.audit import CLI_ACTOR
from gateway.staff.models import AuditEvent, Role
from gateway.staff.tokens import create_token
from tests.staff import csrf_token, make_staff, sign_in

FIELDS = {
    "name": "Gao, juin",
    "flow": "return_intention",
    "channel": "sms",
    "window": "08:00-19:00",
    "timezone": "Africa/Bamako",
    "throttle": "5",
}
FIRST_LIST = (
    "phone,language,region\n"
    "+22376000001,fr,Gao\n"
    "76 00 00 02,,Mopti\n"  # as typed in Mali
    "hello,fr,\n"  # row 4: not a number
    "+22376000001,fr,Gao\n"  # row 5: listed twice
)
MORE = "telephone;langue\n+22376000002;fr\n+22376000003;en\n"  # one already in the campaign
ACTORS = {"api": "token:manager", "dashboard": "user:manager", "cli": CLI_ACTOR}


class Surfaces:
    """A manager at each surface: an API token, a dashboard session, the server's terminal.

    Each method does one operation the way a person does it there, and returns whether the
    surface said it was done.
    """

    def __init__(self, app: Flask, runtime: Runtime) -> None:
        self.runtime = runtime
        make_staff(runtime)
        with runtime.sessions.begin() as session:
            secret = create_token(session, name="manager", role=Role.MANAGER, actor=CLI_ACTOR)
        self.token = {"Authorization": f"Bearer {secret.secret}"}
        self.api = app.test_client()
        self.dashboard = app.test_client()
        sign_in(self.dashboard, "manager")

    # -- create ------------------------------------------------------------------------------

    def create(self, surface: str, audience: str) -> str:
        """Create a campaign with ``audience`` as a CSV file; its id."""
        return {"api": self._api_create, "dashboard": self._page_create, "cli": self._cli_create}[
            surface
        ](audience)

    def _api_create(self, audience: str) -> str:
        form: dict[str, Any] = {**FIELDS, "audience": (io.BytesIO(audience.encode()), "a.csv")}
        answer = self.api.post(
            "/api/v1/campaigns", data=form, headers=self.token, content_type="multipart/form-data"
        )
        assert answer.status_code == 202, answer.get_json()
        campaign_id: str = answer.get_json()["campaign"]["id"]
        return campaign_id

    def _page_create(self, audience: str) -> str:
        page = self.dashboard.get("/dashboard/campaigns/new").get_data(as_text=True)
        form: dict[str, Any] = {
            **FIELDS,
            "csrf_token": csrf_token(page),
            "audience": (io.BytesIO(audience.encode()), "a.csv"),
        }
        answer = self.dashboard.post(
            "/dashboard/campaigns/new", data=form, content_type="multipart/form-data"
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)
        return answer.headers["Location"].rsplit("/", 1)[1]

    def _cli_create(self, audience: str) -> str:
        path = self.runtime.settings.var_dir / "list.csv"
        path.write_text(audience)
        options = [f"--{name}={value}" for name, value in FIELDS.items()]
        done = self.terminal("create", *options, "--audience", str(path))
        assert done.exit_code == 0, done.output
        return self._full_id(done.output.split()[1])

    # -- add contacts ------------------------------------------------------------------------

    def add(self, surface: str, campaign_id: str, audience: str) -> bool:
        """Add the numbers of a CSV file to the campaign."""
        if surface == "api":
            form = {"audience": (io.BytesIO(audience.encode()), "more.csv")}
            answer = self.api.post(
                f"/api/v1/campaigns/{campaign_id}/imports",
                data=form,
                headers=self.token,
                content_type="multipart/form-data",
            )
            return answer.status_code == 202
        path = self.runtime.settings.var_dir / "more.csv"
        path.write_text(audience)
        return self.terminal("import", campaign_id[:8], str(path)).exit_code == 0

    # -- change state ------------------------------------------------------------------------

    def change(self, surface: str, campaign_id: str, action: str) -> bool:
        """Press start, pause, resume or cancel."""
        if surface == "api":
            answer = self.api.post(f"/api/v1/campaigns/{campaign_id}/{action}", headers=self.token)
            return answer.status_code == 200
        if surface == "dashboard":
            page = self.dashboard.get(f"/dashboard/campaigns/{campaign_id}")
            answer = self.dashboard.post(
                f"/dashboard/campaigns/{campaign_id}/{action}",
                # Cancelling asks for its box to be ticked, as a person does on its page.
                data={"csrf_token": csrf_token(page.get_data(as_text=True)), "confirm": "yes"},
                follow_redirects=True,
            )
            return '<p class="flash error">' not in answer.get_data(as_text=True)
        return self.terminal(action, campaign_id[:8]).exit_code == 0

    # -- the terminal ------------------------------------------------------------------------

    def terminal(self, *args: str) -> Any:
        """``survey-gateway campaign ARGS`` as staff at the server's terminal run it."""
        env: dict[str, str | None] = {
            name: None
            for name in os.environ
            if name.startswith(("GATEWAY_", "AT_")) or name in ("REDIS_URL", "DATABASE_URL")
        }
        env.update(
            {
                "GATEWAY_VAR_DIR": str(self.runtime.settings.var_dir),
                "DATABASE_URL": self.runtime.settings.database_url,
                "REDIS_URL": url_of(self.runtime.redis),
            }
        )
        return CliRunner().invoke(campaign_command, list(args), env=env, catch_exceptions=False)

    def _full_id(self, short: str) -> str:
        with self.runtime.sessions() as session:
            return session.scalars(select(Campaign.id).where(Campaign.id.startswith(short))).one()


@pytest.fixture
def surfaces(app: Flask, runtime: Runtime) -> Surfaces:
    return Surfaces(app, runtime)


# -- what an operation leaves ------------------------------------------------------------------


def rows_of(runtime: Runtime, campaign_id: str) -> dict[str, Any]:
    """The campaign, its contacts and its imports as stored, without ids, times or actors."""
    with runtime.sessions() as session:
        found = session.get_one(Campaign, campaign_id)
        campaign = {
            column: getattr(found, column)
            for column in Campaign.__table__.columns.keys()
            if column not in ("id", "created_by", "created_at", "started_at", "finished_at")
        }
        campaign["started"] = found.started_at is not None
        campaign["finished"] = found.finished_at is not None
        contacts = sorted(
            (c.row_number, c.respondent_id, c.phone_masked, c.language, c.region, c.status)
            for c in session.scalars(
                select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
            )
        )
        numbers = {
            runtime.cipher.decrypt(c.phone_encrypted)
            for c in session.scalars(
                select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
            )
        }
        imports = [
            (i.status, i.format, i.rows_read, i.accepted, i.duplicates, i.invalid_count, i.invalid)
            for i in session.scalars(
                select(CampaignImport)
                .where(CampaignImport.campaign_id == campaign_id)
                .order_by(CampaignImport.created_at)
            )
        ]
    return {"campaign": campaign, "contacts": contacts, "numbers": numbers, "imports": imports}


def audited(runtime: Runtime, campaign_id: str) -> list[tuple[str, str, str | None]]:
    """(action, object type, detail) of each audit entry about the campaign, oldest first."""
    with runtime.sessions() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == campaign_id).order_by(AuditEvent.id)
        ).all()
    return [(e.action, e.object_type, e.detail) for e in events]


def actors(runtime: Runtime, campaign_id: str) -> set[str]:
    with runtime.sessions() as session:
        return set(
            session.scalars(select(AuditEvent.actor).where(AuditEvent.object_id == campaign_id))
        )


def queued_jobs(runtime: Runtime, campaign_id: str) -> list[str]:
    """The jobs waiting for the campaign, by what they do."""
    # By job id: a job queued again under its id (a second cancel) is still one job.
    waiting = {
        job.id: job.func_name for job in runtime.queue.get_jobs() if job.args == (campaign_id,)
    }
    return sorted(waiting.values())


IMPORT_DETAIL = "rows=4 accepted=2 duplicates=1 opted_out=0 invalid=1"
CREATED = [
    ("campaign.create", "campaign", "name=Gao, juin flow=return_intention channel=sms"),
    ("campaign.import", "campaign", IMPORT_DETAIL),
]


# -- the operations ----------------------------------------------------------------------------


def test_a_campaign_created_with_its_list_is_the_same_from_every_surface(
    surfaces: Surfaces, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    made = {surface: surfaces.create(surface, FIRST_LIST) for surface in ACTORS}
    run_jobs()  # the imports the API and the dashboard queued; the terminal imported its own

    left = {surface: rows_of(runtime, campaign_id) for surface, campaign_id in made.items()}
    assert left["api"] == left["dashboard"] == left["cli"]
    assert left["cli"]["campaign"]["status"] == "draft"
    assert left["cli"]["numbers"] == {"+22376000001", "+22376000002"}
    assert [row[0] for row in left["cli"]["contacts"]] == [2, 3]
    assert left["cli"]["imports"][0][:6] == ("done", "csv", 4, 2, 1, 1)
    assert {s: audited(runtime, c) for s, c in made.items()} == dict.fromkeys(ACTORS, CREATED)
    assert {s: actors(runtime, c) for s, c in made.items()} == {
        s: {actor} for s, actor in ACTORS.items()
    }


def test_contacts_added_to_a_campaign_are_the_same_from_every_surface_offering_it(
    surfaces: Surfaces, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    offered = ("api", "cli")
    made = {surface: surfaces.create(surface, FIRST_LIST) for surface in offered}
    run_jobs()

    assert all(surfaces.add(surface, made[surface], MORE) for surface in offered)
    run_jobs()

    left = {surface: rows_of(runtime, made[surface]) for surface in offered}
    assert left["api"] == left["cli"]
    assert left["cli"]["numbers"] == {"+22376000001", "+22376000002", "+22376000003"}
    assert [i[:6] for i in left["cli"]["imports"]] == [
        ("done", "csv", 4, 2, 1, 1),
        ("done", "csv", 2, 1, 1, 0),
    ]
    added = ("campaign.import", "campaign", "rows=2 accepted=1 duplicates=1 opted_out=0 invalid=0")
    assert {s: audited(runtime, made[s]) for s in offered} == dict.fromkeys(
        offered, [*CREATED, added]
    )
    assert {s: actors(runtime, made[s]) for s in offered} == {s: {ACTORS[s]} for s in offered}


def test_a_cancelled_campaign_takes_no_more_contacts_from_any_surface(
    surfaces: Surfaces, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    offered = ("api", "cli")
    made = {surface: surfaces.create(surface, FIRST_LIST) for surface in offered}
    run_jobs()
    for surface in offered:
        assert surfaces.change(surface, made[surface], "cancel")
    before = {surface: rows_of(runtime, made[surface]) for surface in offered}

    assert not any(surfaces.add(surface, made[surface], MORE) for surface in offered)

    assert {surface: rows_of(runtime, made[surface]) for surface in offered} == before
    cancelled = ("campaign.cancel", "campaign", "draft -> cancelled")
    assert {s: audited(runtime, made[s]) for s in offered} == dict.fromkeys(
        offered, [*CREATED, cancelled]
    )


STEPS = [
    # (button, done?, audited detail when it changed the campaign)
    ("pause", False, None),  # a draft has not started
    ("start", True, "draft -> running"),
    ("start", True, None),  # already running: nothing changes, nothing is audited
    ("pause", True, "running -> paused"),
    ("resume", True, "paused -> running"),
    ("cancel", True, "running -> cancelled"),
    ("cancel", True, None),
    ("resume", False, None),  # cancelled for good
]


def test_start_pause_resume_and_cancel_are_the_same_from_every_surface(
    surfaces: Surfaces, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    made = {surface: surfaces.create(surface, FIRST_LIST) for surface in ACTORS}
    run_jobs()

    # Step by step across the surfaces: each leaves what the others left.
    for action, done, _ in STEPS:
        answers = {s: surfaces.change(s, made[s], action) for s in ACTORS}
        assert answers == dict.fromkeys(ACTORS, done), action
        left = {s: rows_of(runtime, made[s]) for s in ACTORS}
        assert left["api"] == left["dashboard"] == left["cli"], action

    final = rows_of(runtime, made["cli"])["campaign"]
    assert (final["status"], final["started"], final["finished"]) == ("cancelled", True, True)
    changes = [(f"campaign.{a}", "campaign", d) for a, _, d in STEPS if d is not None]
    assert {s: audited(runtime, c) for s, c in made.items()} == dict.fromkeys(
        ACTORS, CREATED + changes
    )
    assert {s: actors(runtime, c) for s, c in made.items()} == {
        s: {actor} for s, actor in ACTORS.items()
    }
    # And the same work handed to the workers: one fan-out (never two, however often it was
    # started), and the end of the reminders.
    assert {s: queued_jobs(runtime, c) for s, c in made.items()} == dict.fromkeys(
        ACTORS, ["workers.campaigns.fan_out", "workers.campaigns.stop_reminders"]
    )
