"""The name of every job the gateway queues: the one place a job's dotted path is written.

RQ stores a job as the dotted path of the function a worker imports and calls; a job waits in
Redis under that path for as long as it is queued, scheduled, retried or kept as failed. A
path is therefore a stored name, not an implementation detail: moving or renaming a job
function strands every job already queued under the old path. Change a path here only with the
old one kept working as an alias for a release (a module at the old path that re-exports the
function), and say so in the upgrade notes.

Strings, not imports: gateway.core must not import the workers (see the import contracts in
pyproject.toml). A test checks that every name here resolves to a callable.
"""

from __future__ import annotations

# The web process's work (gateway.core.queue)
DRAIN_RUNS = "workers.storage.drain_runs"
SEND_DUE_REMINDERS = "workers.reminders.send_due_reminders"
# Queued per step and per question before runs were stored in batches and reminders kept one
# per run: no longer queued, still run for the jobs that wait under them.
SYNC_RUN = "workers.jobs.sync_run"
SEND_MESSAGE = "workers.jobs.send_message"
SEND_REPLY = "workers.sms.send_reply"
REMIND = "workers.sms.remind"  # (no longer queued: see above)
ERASE_RESPONDENT = "workers.sms.erase_respondent"
OFFER_SMS = "workers.sms.offer_sms"
RECORD_OPT_OUT = "workers.sms.record_opt_out"
RECORD_DELIVERY = "workers.delivery.record_delivery"
WITHDRAW_REPORT = "workers.reports.withdraw_report"

# Campaigns (gateway.campaigns.queue)
FAN_OUT = "workers.campaigns.fan_out"
STOP_REMINDERS = "workers.campaigns.stop_reminders"
REMIND_INVITATION = "workers.campaigns.remind_invitation"
RUN_IMPORT = "workers.campaign_imports.run_import"

# Maintenance the workers plan for themselves (workers.maintenance)
DAILY_PURGE = "workers.maintenance.daily_purge"
SWEEP_MESSAGES = "workers.maintenance.sweep_messages"
OPEN_WAVES = "workers.maintenance.open_waves"
REMIND_QUIET_ENUMERATORS = "workers.maintenance.remind_quiet_enumerators"

ALL_JOBS: tuple[str, ...] = (
    DRAIN_RUNS,
    SEND_DUE_REMINDERS,
    SYNC_RUN,
    SEND_MESSAGE,
    SEND_REPLY,
    REMIND,
    ERASE_RESPONDENT,
    OFFER_SMS,
    RECORD_OPT_OUT,
    RECORD_DELIVERY,
    WITHDRAW_REPORT,
    FAN_OUT,
    STOP_REMINDERS,
    REMIND_INVITATION,
    RUN_IMPORT,
    DAILY_PURGE,
    SWEEP_MESSAGES,
    OPEN_WAVES,
    REMIND_QUIET_ENUMERATORS,
)
