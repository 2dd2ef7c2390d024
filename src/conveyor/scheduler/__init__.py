"""Schedules: when recurring jobs fire (cron with time zones, intervals)."""
