"""When each job runs: its cron setting, read as an APScheduler trigger in settings.timezone.

Shared by the scheduler, which fires the jobs, and the job history, which shows the next runs.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from churn_core.settings import Settings, SettingsError

JOB_CRONS: dict[str, str] = {"weekly": "train_cron", "daily": "score_cron"}  # job -> setting, weekly first


def cron_trigger(settings: Settings, job: str) -> CronTrigger:
    """The job's CronTrigger from its crontab setting (5 fields, or 6 with seconds first), in
    settings.timezone; SettingsError when either is invalid."""
    setting = JOB_CRONS[job]
    try:
        zone = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"setting 'timezone': {settings.timezone!r} is not a time zone name such as UTC or Europe/Berlin"
        ) from None
    expression = str(getattr(settings, setting)).strip()
    try:
        fields = expression.split()
        if len(fields) == 6:  # a leading seconds field, as in Quartz/APScheduler (handy for tests)
            second, minute, hour, day, month, day_of_week = fields
            return CronTrigger(
                second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=zone
            )
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        raise SettingsError(
            f"setting {setting!r}: {getattr(settings, setting)!r} is not a crontab "
            f"expression ({exc}); e.g. '0 6 * * *' for 06:00 every day"
        ) from None
