"""Privacy and accountability (issue 17): the audit log, consent records, the suppression list
of erased numbers, and the export / erase / retention services built on them.

- models.py    AuditEntry, ConsentRecord, SuppressedNumber (re-exported by conversations.models)
- audit.py     audit_record() and the request context it reads the actor and address from
- signals.py   sign-ins, lockouts, user/group/permission changes, API tokens -> audit entries
- consent.py   consent_record(), contact_has_recorded_opt_in()
- suppression.py  the keyed hash of a number, and the checks on the send and inbound paths
- export.py    contact_export(): everything held about one contact, as one JSON document
- erase.py     contact_erase() and messages_retention_erase()
"""
