"""The campaign domain's errors.

- ``CampaignError``: a campaign request that cannot be done (404, 409 or 422).
  - ``CampaignSpecError``: a campaign asked for with values out of bounds, every one named.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.core.errors import DomainError


class CampaignError(DomainError):
    """A campaign request that cannot be done: 404 unknown campaign, 409 a change its state
    does not allow, 422 a value out of bounds."""


class CampaignSpecError(CampaignError):
    """A campaign asked for with values out of bounds: every problem, by the ``CampaignSpec``
    field it concerns, so a form can show each next to its field. Said as the first."""

    def __init__(self, problems: Mapping[str, CampaignError]) -> None:
        super().__init__(next(iter(problems.values())).reason)
        self.problems = dict(problems)
