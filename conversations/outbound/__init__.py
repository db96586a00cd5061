"""The one send path: every outbound WhatsApp and SMS message goes through this package.

1. `message_send()` (service.py) checks the request (content.py: destination, opt-out,
   WhatsApp's 24-hour window, template parameters, interactive limits, text and media rules)
   and writes the `queued` message and its `OutboundJob` in ONE transaction: `OutboundJob` is
   the queue, no message without its job. `messages_queue_bulk()` (bulk.py) does the same for a
   batch of bulk messages (a campaign's) in a fixed number of queries.
2. Workers (worker.py) claim due jobs (claims.py), agent replies before bulk, and send them on a bounded
   pool of threads. Each request waits for its turn under the account's API limit and its
   sender's MPS, shared by every worker process (pacing.py), then goes to Plivo through the
   SDK (transport.py).
3. The answer is classified and recorded (jobs.py, the one owner of a send's state): accepted
   (uuid stored, `sending`), transient (retried with backoff), 429 (sent again when the limiter
   allows, never an error), permanent (`failed` at once) or ambiguous (the request may have
   reached Plivo: never resent automatically; `unconfirmed` until a report arrives or the time
   runs out). A pooled worker pushes its sends' inbox events together (pushes.py). A bulk job
   no worker claimed yet can be withdrawn (a campaign paused or stopped): never sent.
4. The recovery sweep (recovery.py) settles what a dead worker or a missing delivery report
   left open, asking Plivo (`GET Message/{uuid}/`) about accepted sends no report settled.

Nothing else in Parley calls the Plivo SDK to send.
"""

from conversations.outbound.content import KINDS, WHATSAPP_ONLY_KINDS, PreparedContent, content_prepare
from conversations.outbound.transport import (
    MessageLookup,
    Result,
    SendOutcome,
    plivo_message_get,
    plivo_request,
    plivo_send,
    status_callback_url,
)
from conversations.outbound import pacing
from conversations.outbound.jobs import (
    outbound_job_claim,
    outbound_jobs_claim_due,
    outbound_jobs_withdraw,
    outcome_record,
    retry_delay_seconds,
    send_report_received,
)
from conversations.outbound.service import job_send, message_retry, message_send, outbound_job_process
from conversations.outbound.bulk import BulkMessage, BulkQueued, messages_queue_bulk
from conversations.outbound.recovery import outbound_sweep, report_lookup
from conversations.outbound.worker import OutboundWorker, start_embedded_worker

__all__ = [
    "KINDS", "WHATSAPP_ONLY_KINDS", "PreparedContent", "content_prepare",
    "MessageLookup", "Result", "SendOutcome", "plivo_message_get", "plivo_request", "plivo_send", "status_callback_url",
    "pacing",
    "outbound_job_claim", "outbound_jobs_claim_due", "outbound_jobs_withdraw", "outcome_record", "retry_delay_seconds",
    "send_report_received",
    "job_send", "message_retry", "message_send", "outbound_job_process",
    "BulkMessage", "BulkQueued", "messages_queue_bulk",
    "outbound_sweep", "report_lookup",
    "OutboundWorker", "start_embedded_worker",
]
