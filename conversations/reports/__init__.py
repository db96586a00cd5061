"""Reports: what a support lead asks every Monday (volume, delivery, responsiveness, per agent,
per label, opt-outs), fast at millions of messages.

- models.py     the team's time zone and business hours, the rollups (`ReportEpisode`,
                `ReportDay`) and the markers (`ReportPending`) that keep them current
- hours.py      local days and business-hours durations (time zones, DST)
- episodes.py   a conversation's episodes: opened or reopened, first agent reply, resolved
- rollups.py    marking what changed, the incremental refresh and the full rebuild
- summary.py    the report itself, a handful of queries over the rollups
"""
