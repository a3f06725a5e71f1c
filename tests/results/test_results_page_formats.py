"""The results page writes numbers as its reader does: ``27,5 %`` in French, ``27.5%``
in English.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from gateway.core.runtime import Runtime
from tests.households import FORTY, add
from tests.staff import make_staff, sign_in, text_of

PAGE = "/dashboard/results/?flow=return_intention"


def share_cells(page: str) -> list[str]:
    """The share column of every results table, as the page writes it."""
    return re.findall(r'<td class="num">([^<]*%)</td>', page)


def test_shares_are_written_the_french_way_then_the_english_way(
    client: FlaskClient, runtime: Runtime
) -> None:
    make_staff(runtime)
    with runtime.sessions() as session:
        add(session, FORTY)
    sign_in(client, "viewer")

    french = share_cells(text_of(client.get(PAGE)))
    # Intention: return 20 of 40, stay 11 of 40 (tests.households).
    assert "50,0\xa0%" in french and "27,5\xa0%" in french
    assert not [cell for cell in french if "." in cell]

    client.get("/dashboard/language/en")
    english = share_cells(text_of(client.get(PAGE)))
    assert "50.0%" in english and "27.5%" in english
