"""Campaigns (issue 15): one approved template (WhatsApp) or text (SMS) to thousands, through
the outbound engine at bulk priority, consent-safe, with per-recipient results.

- lifecycle.py   create / start / pause / resume / stop / fail, enforced on the server (409)
- recipients.py  adding recipients: API batches, CSV files, a label
- rules.py       parameters, consent (opt-out, suppression, CAMPAIGN_REQUIRE_OPT_IN), quiet hours
- dispatch.py    the outbound worker's chores: queue due recipients, push live progress
- results.py     per-recipient results, counts, rates, ETA, CSV export, replies
- serialize.py   the API's and the events' shape

Models: `conversations/campaign_models.py`. API: `conversations/api/campaigns.py`.
"""
