"""Every dashboard and simulator route, walked as nobody and as each role.

The table names the least role each route needs; a route missing from it fails the test, so
a new page cannot ship without deciding who may see it.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from gateway.staff.models import Role
from tests.staff import csrf_token, make_staff, sign_in

ID = "00000000-0000-4000-8000-000000000000"
# (method, rule) -> least role, or None for public. The simulator is for managers, in every
# environment (these tests run in development).
ROUTES: dict[tuple[str, str], Role | None] = {
    ("GET", "/dashboard/"): Role.VIEWER,
    ("GET", "/dashboard/campaigns/"): Role.VIEWER,
    ("GET", "/dashboard/campaigns/<campaign_id>"): Role.VIEWER,
    ("POST", "/dashboard/campaigns/<campaign_id>/<any(start, pause, resume, cancel):action>"): (
        Role.MANAGER
    ),
    ("GET", "/dashboard/campaigns/new"): Role.MANAGER,
    ("POST", "/dashboard/campaigns/new"): Role.MANAGER,
    ("GET", "/dashboard/campaigns/<campaign_id>/cancel"): Role.MANAGER,
    ("POST", "/dashboard/campaigns/<campaign_id>/contacts"): Role.MANAGER,
    ("GET", "/dashboard/enumerators/"): Role.MANAGER,
    ("GET", "/dashboard/enumerators/activity"): Role.MANAGER,
    ("GET", "/dashboard/reports/"): Role.VIEWER,
    ("GET", "/dashboard/reports/<flow_id>"): Role.VIEWER,
    ("POST", "/dashboard/enumerators/<enumerator_id>/<any(approve, reject, revoke):decision>"): (
        Role.MANAGER
    ),
    ("GET", "/dashboard/language/<code>"): None,
    ("GET", "/dashboard/login"): None,
    ("POST", "/dashboard/login"): None,
    ("POST", "/dashboard/logout"): None,
    ("GET", "/dashboard/results/"): Role.VIEWER,
    ("GET", "/dashboard/results/export.<any(csv, xlsx, hxl):fmt>"): Role.VIEWER,
    ("GET", "/dashboard/results/bulletin"): Role.VIEWER,
    ("GET", "/dashboard/submissions/"): Role.VIEWER,
    ("GET", "/dashboard/surveys/"): Role.MANAGER,
    ("POST", "/dashboard/surveys/"): Role.MANAGER,
    ("GET", "/dashboard/surveys/<flow_id>.xlsx"): Role.MANAGER,
    ("POST", "/dashboard/surveys/<flow_id>/preview"): Role.MANAGER,
    ("POST", "/dashboard/surveys/<flow_id>/publish"): Role.MANAGER,
    ("GET", "/simulator"): Role.MANAGER,
    ("POST", "/simulator/phone"): Role.MANAGER,
    ("POST", "/simulator/preview/end"): Role.MANAGER,
    ("GET", "/simulator/messages"): Role.MANAGER,
    ("POST", "/simulator/sms"): Role.MANAGER,
    ("POST", "/simulator/ussd"): Role.MANAGER,
    # Administration (issue 12)
    ("GET", "/dashboard/admin/"): Role.ADMIN,
    ("GET", "/dashboard/admin/users"): Role.ADMIN,
    ("POST", "/dashboard/admin/users"): Role.ADMIN,
    ("GET", "/dashboard/admin/users/<username>"): Role.ADMIN,
    ("POST", "/dashboard/admin/users/<username>/<any(disable, enable):change>"): Role.ADMIN,
    ("POST", "/dashboard/admin/users/<username>/role"): Role.ADMIN,
    ("POST", "/dashboard/admin/users/<username>/password"): Role.ADMIN,
    ("GET", "/dashboard/admin/tokens"): Role.ADMIN,
    ("POST", "/dashboard/admin/tokens"): Role.ADMIN,
    ("GET", "/dashboard/admin/tokens/<token_id>/revoke"): Role.ADMIN,
    ("POST", "/dashboard/admin/tokens/<token_id>/revoke"): Role.ADMIN,
    ("GET", "/dashboard/admin/audit"): Role.ADMIN,
    ("GET", "/dashboard/messages/"): Role.MANAGER,
    ("POST", "/dashboard/messages/<message_id>/retry"): Role.MANAGER,
}
# Routes the simulator's script calls: signed out, a JSON 401, not a redirect to a page.
JSON_ROUTES = {
    ("GET", "/simulator/messages"),
    ("POST", "/simulator/sms"),
    ("POST", "/simulator/ussd"),
}
CONCRETE = {
    "<campaign_id>": ID,
    "<any(start, pause, resume, cancel):action>": "start",
    "<enumerator_id>": ID,
    "<any(approve, reject, revoke):decision>": "approve",
    "<code>": "en",
    "<flow_id>": "return_intention",
    "<any(csv, xlsx, hxl):fmt>": "csv",
    "<username>": "nobody",
    "<any(disable, enable):change>": "disable",
    "<token_id>": ID,
    "<message_id>": ID,
}
ORDER = [Role.VIEWER, Role.MANAGER, Role.ADMIN]


def concrete(rule: str) -> str:
    for placeholder, value in CONCRETE.items():
        rule = rule.replace(placeholder, value)
    return rule


def test_every_route_is_in_the_table(app: Flask) -> None:
    found = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/dashboard", "/simulator"))
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert found == set(ROUTES)


@pytest.mark.parametrize("caller", ["nobody", *(r.value for r in ORDER)])
def test_each_route_checks_its_role(app: Flask, runtime: Runtime, caller: str) -> None:
    make_staff(runtime)
    for (method, rule), least in ROUTES.items():
        client: FlaskClient = app.test_client()
        if caller != "nobody":
            assert sign_in(client, caller).status_code == 302
        # A page with a form: the sign-in form for nobody, the sign-out form for staff.
        page = "/dashboard/login" if caller == "nobody" else "/dashboard/campaigns/"
        token = csrf_token(client.get(page).get_data(as_text=True))
        path = concrete(rule)
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token})
        status, where = response.status_code, f"{caller} {method} {path}"
        assert status < 500, where
        if least is None:
            continue
        if caller == "nobody" and (method, rule) in JSON_ROUTES:
            assert status == 401 and response.is_json, where
        elif caller == "nobody":
            assert status == 302 and "/dashboard/login" in response.headers["Location"], where
        elif ORDER.index(Role(caller)) < ORDER.index(least):
            assert status == 403, where
        else:
            assert status not in (401, 403), where
            location = response.headers.get("Location", "")
            assert "/dashboard/login" not in location, where
