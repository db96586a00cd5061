"""Write paths of the inbox, one module per area:

- contacts.py          find-or-create a contact by phone, opt-out / opt-in
- conversations.py     find-or-create a thread, status, assignment, read state
- inbound.py           customer messages from Plivo's inbound webhook
- keywords.py          STOP / START / HELP in a customer message
- delivery_reports.py  delivery reports for our sends (the status webhook), in raw SQL

Outbound sending lives in the `conversations/outbound/` package, the one place that talks to Plivo.
Every function that changes what agents see publishes its inbox event through `events.py`.
"""
