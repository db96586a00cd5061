"""Write paths of the inbox, one module per area:

- contacts.py       find-or-create a contact by phone, opt-out / opt-in
- conversations.py  find-or-create a thread, status, assignment, read state
- inbound.py        inbound messages and delivery reports from Plivo's webhooks

Outbound sending lives in `conversations/outbound.py`, the one module that talks to Plivo.
Every function that changes what agents see publishes its inbox event through `events.py`.
"""
