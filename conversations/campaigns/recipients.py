"""Adding recipients (only while a campaign is a draft or scheduled): a batch from the API, a
CSV file, or everyone whose conversation carries a label.

Every row is kept: a number that cannot be sent to is stored as skipped with its reason, so
the skipped-row report before starting and the results afterwards show it. What is checked
here (number, parameters, duplicates, opt-out) is checked again at the moment of sending.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction

from conversations.campaign_models import Campaign, CampaignRecipient
from conversations.campaigns import rules
from conversations.models import Conversation
from conversations.phone import InvalidPhoneNumber, normalize_phone
from messaging_site.errors import ApplicationError

MAX_BATCH = 1000
MAX_CSV_ROWS = 100_000
SKIPPED_ROWS_SHOWN = 1000
Reason = CampaignRecipient.SkipReason


@dataclass
class AddResult:
    added: int = 0
    skipped: int = 0
    # The first SKIPPED_ROWS_SHOWN skipped rows: {"row": n (1-based, CSV data rows), "phone", "reason", "detail"}.
    skipped_rows: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"added": self.added, "skipped": self.skipped, "skipped_rows": self.skipped_rows}


def _lock_open_for_recipients(campaign: Campaign) -> Campaign:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        raise ApplicationError(f"This campaign is {campaign.get_status_display().lower()}; recipients can be added only "
                               "while it is a draft or scheduled.", code="invalid_state", field="status", status=409)
    return campaign


def recipients_add(*, campaign: Campaign, rows: list[tuple[str, list]], first_row: int = 1) -> AddResult:
    """Add `rows` of (phone as written, parameters); `first_row` numbers them in the report."""
    result = AddResult()
    with transaction.atomic():
        campaign = _lock_open_for_recipients(campaign)
        template = rules.campaign_template(campaign)
        expected = rules.parameter_count(campaign, template)
        seen = set(campaign.recipients.exclude(skip_reason__in=[Reason.DUPLICATE, Reason.INVALID_NUMBER])
                   .values_list("phone", flat=True))
        prepared = []
        for offset, (raw_phone, parameters) in enumerate(rows):
            recipient = _prepare(campaign=campaign, raw_phone=raw_phone, parameters=parameters, expected=expected, seen=seen)
            prepared.append((first_row + offset, recipient))
        valid = [r.phone for _, r in prepared if not r.skip_reason]
        refusals = rules.consent_refusals(phones=valid, channel=campaign.channel,
                                          opt_in_required=rules.requires_opt_in(campaign, template)) if valid else {}
        for row, recipient in prepared:
            if not recipient.skip_reason and recipient.phone in refusals:
                recipient.status, recipient.skip_reason = CampaignRecipient.Status.SKIPPED, refusals[recipient.phone]
                recipient.skip_detail = ("Opted out (or erased); never sent." if recipient.skip_reason == Reason.OPTED_OUT
                                         else "No recorded opt-in on this channel (CAMPAIGN_REQUIRE_OPT_IN).")
            if recipient.skip_reason:
                result.skipped += 1
                if len(result.skipped_rows) < SKIPPED_ROWS_SHOWN:
                    result.skipped_rows.append({"row": row, "phone": recipient.phone, "reason": recipient.skip_reason,
                                                "detail": recipient.skip_detail})
            else:
                result.added += 1
        CampaignRecipient.objects.bulk_create([recipient for _, recipient in prepared], batch_size=1000)
    return result


def _prepare(*, campaign, raw_phone, parameters, expected: int, seen: set) -> CampaignRecipient:
    recipient = CampaignRecipient(campaign=campaign, phone=str(raw_phone or "").strip()[:64], parameters=parameters)
    try:
        recipient.phone = normalize_phone(str(raw_phone or ""), strict=True)
    except InvalidPhoneNumber as exc:
        return _skipped(recipient, Reason.INVALID_NUMBER, str(exc))
    if recipient.phone in seen:
        return _skipped(recipient, Reason.DUPLICATE, "This number is already a recipient of this campaign.")
    seen.add(recipient.phone)
    if problem := rules.parameters_problem(parameters, expected=expected):
        return _skipped(recipient, Reason.INVALID_PARAMETERS, problem)
    recipient.parameters = [str(value) for value in parameters]
    return recipient


def _skipped(recipient: CampaignRecipient, reason: str, detail: str) -> CampaignRecipient:
    recipient.status, recipient.skip_reason, recipient.skip_detail = CampaignRecipient.Status.SKIPPED, reason, detail[:300]
    return recipient


def recipients_add_batch(*, campaign: Campaign, recipients: list[dict]) -> AddResult:
    """The API's batch: [{"phone", "parameters": [...]}, ...], up to MAX_BATCH."""
    if not recipients:
        raise ApplicationError("Give at least one recipient.", code="required", field="recipients", status=400)
    if len(recipients) > MAX_BATCH:
        raise ApplicationError(f"At most {MAX_BATCH} recipients per call; {len(recipients)} given. Send them in batches, "
                               "or upload a CSV file.", code="too_many", field="recipients", status=400)
    return recipients_add(campaign=campaign, rows=[(r.get("phone", ""), r.get("parameters", [])) for r in recipients])


def csv_rows(*, data: bytes, phone_column: str | None = None, parameter_columns: list[str] | None = None) -> list[tuple[str, list]]:
    """Read a CSV file with a header row: the phone column (`phone_column`, else the one named
    "phone", else the first) and the parameter columns in order (`parameter_columns`, else all
    the others, left to right)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApplicationError("The CSV file must be UTF-8 text.", code="invalid_csv", field="file", status=400) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [column.strip() for column in next(reader, [])]
    if not header or not any(header):
        raise ApplicationError("The CSV file is empty; it needs a header row and one row per recipient.",
                               code="invalid_csv", field="file", status=400)
    lowered = [column.lower() for column in header]
    phone_index = _column(lowered, phone_column, field="phone_column") if phone_column else (
        lowered.index("phone") if "phone" in lowered else 0)
    if parameter_columns:
        parameter_indexes = [_column(lowered, name, field="parameter_columns") for name in parameter_columns]
    else:
        parameter_indexes = [index for index in range(len(header)) if index != phone_index]
    rows = []
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        if len(rows) >= MAX_CSV_ROWS:
            raise ApplicationError(f"The CSV file has more than {MAX_CSV_ROWS:,} rows; split it.", code="too_many",
                                   field="file", status=400)
        cell = lambda index: values[index].strip() if index < len(values) else ""  # noqa: E731
        rows.append((cell(phone_index), [cell(index) for index in parameter_indexes]))
    return rows


def _column(lowered_header: list[str], name: str, *, field: str) -> int:
    try:
        return lowered_header.index(name.strip().lower())
    except ValueError:
        raise ApplicationError(f"The CSV file has no column {name!r}.", code="unknown_column", field=field, status=400) from None


def recipients_add_csv(*, campaign: Campaign, data: bytes, phone_column=None, parameter_columns=None) -> AddResult:
    rows = csv_rows(data=data, phone_column=phone_column, parameter_columns=parameter_columns)
    if not rows:
        raise ApplicationError("The CSV file has a header but no recipients.", code="required", field="file", status=400)
    result = AddResult()
    with transaction.atomic():  # the whole file or nothing
        for start in range(0, len(rows), 5000):
            result_add(result, recipients_add(campaign=campaign, rows=rows[start:start + 5000], first_row=start + 1))
    return result


def result_add(total: AddResult, part: AddResult) -> None:
    total.added += part.added
    total.skipped += part.skipped
    total.skipped_rows.extend(part.skipped_rows[: SKIPPED_ROWS_SHOWN - len(total.skipped_rows)])


def recipients_add_label(*, campaign: Campaign, label: str, parameters: list | None = None) -> AddResult:
    """Everyone whose conversation on the campaign's channel carries `label` (by name, ignoring
    case), each with the same `parameters`."""
    phones = list(Conversation.objects.filter(channel=campaign.channel, labels__name__iexact=label.strip())
                  .values_list("contact__phone", flat=True).distinct().order_by("contact__phone"))
    if not phones:
        raise ApplicationError(f"No {campaign.get_channel_display()} conversation carries the label {label!r}.",
                               code="no_recipients", field="label", status=400)
    return recipients_add(campaign=campaign, rows=[(phone, list(parameters or [])) for phone in phones])


def campaign_recipients_erase(*, phone: str, placeholder: str) -> None:
    """The contact with `phone` was erased: their number and parameters leave every campaign
    (the rows stay, so counts stay right), and a campaign not yet sent to them never will be."""
    recipients = CampaignRecipient.objects.filter(phone=phone)
    recipients.filter(status=CampaignRecipient.Status.PENDING).update(
        status=CampaignRecipient.Status.SKIPPED, skip_reason=Reason.OPTED_OUT, skip_detail="The contact was erased.")
    recipients.update(phone=placeholder, parameters=[])
