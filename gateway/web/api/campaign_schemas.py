"""What the campaigns API reads and answers: marshmallow schemas, also its OpenAPI document.

The views are in ``gateway.web.api.campaigns``.
"""

from __future__ import annotations

import marshmallow as ma

from gateway.campaigns.definition import DEFAULT_THROTTLE, DEFAULT_TIMEZONE, DEFAULT_WINDOW
from gateway.campaigns.models import Campaign, CampaignChannel, CampaignStatus, ImportStatus


class ProgressSchema(ma.Schema):
    """A campaign's counts, each a number of contacts (see gateway.campaigns.progress)."""

    contacts = ma.fields.Integer()
    queued = ma.fields.Integer(metadata={"description": "Invitations still to send"})
    sent = ma.fields.Integer(metadata={"description": "Invitations handed to the outbox"})
    delivered = ma.fields.Integer(metadata={"description": "AT reported them delivered"})
    failed = ma.fields.Integer(metadata={"description": "Failed, rejected or expired on the way"})
    started = ma.fields.Integer(metadata={"description": "Answered at least one question"})
    completed = ma.fields.Integer()
    declined = ma.fields.Integer()
    expired = ma.fields.Integer(metadata={"description": "Did not finish in time"})
    answering = ma.fields.Integer(
        metadata={"description": "Invited and may still answer (and be reminded)"}
    )
    opted_out = ma.fields.Integer(metadata={"description": "Sent STOP"})
    skipped = ma.fields.Integer(metadata={"description": "Had completed the survey already"})


class CampaignSchema(ma.Schema):
    """A campaign's settings and state."""

    id = ma.fields.String()
    name = ma.fields.String()
    flow = ma.fields.String()
    channel = ma.fields.Enum(CampaignChannel, by_value=True)
    status = ma.fields.Enum(CampaignStatus, by_value=True)
    start_at = ma.fields.DateTime(allow_none=True)
    window = ma.fields.Method("_window", metadata={"description": "Daily hours, e.g. 08:00-19:00"})
    timezone = ma.fields.String()
    throttle = ma.fields.Float(metadata={"description": "Invitations a second"})
    reminder_count = ma.fields.Integer()
    reminder_interval_hours = ma.fields.Integer()
    expiry_hours = ma.fields.Integer()
    retention_days = ma.fields.Integer(allow_none=True)
    repeat_days = ma.fields.Integer(
        allow_none=True, metadata={"description": "Days between waves; null: sent once"}
    )
    repeat_waves = ma.fields.Integer(
        allow_none=True, metadata={"description": "Waves in all, the first included"}
    )
    repeat_until = ma.fields.DateTime(
        allow_none=True, metadata={"description": "No wave opens after this moment"}
    )
    wave = ma.fields.Integer(metadata={"description": "The wave being sent (1 for a one-shot)"})
    next_wave_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "When the next wave opens; null: none to come"}
    )
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)

    def _window(self, campaign: Campaign) -> str:
        return f"{campaign.window_start:%H:%M}-{campaign.window_end:%H:%M}"


class CampaignListItemSchema(ma.Schema):
    """A campaign in a listing, with how many contacts it has and has invited."""

    campaign = ma.fields.Nested(CampaignSchema)
    contacts = ma.fields.Integer()
    invited = ma.fields.Integer()


class CampaignDetailSchema(ma.Schema):
    """A campaign and its progress."""

    campaign = ma.fields.Nested(CampaignSchema)
    progress = ma.fields.Nested(ProgressSchema)


class ChangeSchema(CampaignDetailSchema):
    """A campaign after a state change."""

    changed = ma.fields.Boolean(metadata={"description": "False when it was in that state"})


class InvalidRowSchema(ma.Schema):
    """A row of the list that was not taken."""

    row_number = ma.fields.Integer(metadata={"description": "CSV: the header is row 1"})
    reason = ma.fields.String(metadata={"description": "Why; any number in it masked"})


class ImportSchema(ma.Schema):
    """The import of a list: where it stands and, once done, what it did."""

    id = ma.fields.String()
    campaign_id = ma.fields.String()
    status = ma.fields.Enum(
        ImportStatus, by_value=True, metadata={"description": "queued, running, done or failed"}
    )
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    rows_read = ma.fields.Integer(metadata={"description": "So far, while running"})
    accepted = ma.fields.Integer(metadata={"description": "Contacts added"})
    duplicates = ma.fields.Integer(metadata={"description": "Listed twice, or already there"})
    opted_out = ma.fields.Integer(metadata={"description": "Sent STOP before: left out"})
    invalid_count = ma.fields.Integer()
    invalid = ma.fields.List(
        ma.fields.Nested(InvalidRowSchema), metadata={"description": "The first 1,000"}
    )
    problem = ma.fields.String(
        allow_none=True, metadata={"description": "Failed: why the list could not be read"}
    )


class AcceptedSchema(ma.Schema):
    """A campaign, and the import of its list, queued (follow it at ``Location``)."""

    campaign = ma.fields.Nested(CampaignSchema)
    import_ = ma.fields.Nested(ImportSchema, data_key="import")


class ContactSchema(ma.Schema):
    """One number of the audience, in any usual form."""

    phone = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    language = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20))
    region = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=100))


class NewCampaignSchema(ma.Schema):
    """A campaign to create. As a multipart form, the same fields and an ``audience`` CSV."""

    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    flow = ma.fields.String(required=True, validate=ma.validate.Length(max=64))
    channel = ma.fields.String(required=True, validate=ma.validate.OneOf(["sms", "ussd"]))
    start_at = ma.fields.DateTime(
        metadata={"description": "Not before; without a zone, a local time of 'timezone'"}
    )
    window = ma.fields.String(load_default=DEFAULT_WINDOW, validate=ma.validate.Length(max=20))
    timezone = ma.fields.String(load_default=DEFAULT_TIMEZONE, validate=ma.validate.Length(max=64))
    throttle = ma.fields.Float(load_default=DEFAULT_THROTTLE)
    reminders = ma.fields.Integer(metadata={"description": "Default: the flow's"})
    reminder_interval_hours = ma.fields.Integer()
    expiry_hours = ma.fields.Integer()
    retention_days = ma.fields.Integer()
    repeat_days = ma.fields.Integer(
        metadata={"description": "Repeat: days between waves (default 7)"}
    )
    repeat_waves = ma.fields.Integer(
        metadata={"description": "Repeat: the number of waves in all, the first included"}
    )
    repeat_until = ma.fields.Date(
        metadata={"description": "Repeat: the last day a wave may open (campaign's time zone)"}
    )
    contacts = ma.fields.List(
        ma.fields.Nested(ContactSchema), metadata={"description": "JSON only: the audience"}
    )


class NewContactsSchema(ma.Schema):
    """Contacts to add. As a multipart form, an ``audience`` CSV instead."""

    class Meta:
        unknown = ma.RAISE

    contacts = ma.fields.List(ma.fields.Nested(ContactSchema), required=True)


LOCATION = {
    "Location": {
        "description": "The import to follow: /api/v1/campaigns/{id}/imports/{import_id}",
        "schema": {"type": "string"},
    }
}
MULTIPART_AUDIENCE = {
    "type": "object",
    "required": ["audience"],
    "properties": {
        "audience": {
            "type": "string",
            "format": "binary",
            "description": "CSV with a phone column; language, region optional",
        }
    },
}
