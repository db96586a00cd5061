"""Inbound media kept: each picture a customer sends is downloaded from Plivo in the background
(with the account's credentials, bounded in size, retried with backoff), typed from its bytes,
stored, and shown in the thread (pushed live) through Parley's authenticated media view."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from conversations.models import InboxEvent, MediaFile, Message
from conversations.services.inbound import message_receive
from conversations.services.media_download import (
    _sends_credentials,
    inbound_media_claim_due,
    inbound_media_download,
)
from conversations.tests.media_support import MB, PNG, jpeg, media_root  # noqa: F401 (fixture)
from conversations.tests.outbound_support import drain
from webhooks.payloads import InboundPayload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]
State = MediaFile.State


def receive_mms(fake_plivo, data=PNG, *, uuid="0f0e0d0c-0000-4000-8000-000000000001", claimed_type="image/jpeg",
                url=None):
    url = url or fake_plivo.media.add_inbound(message_uuid=uuid, data=data, content_type="application/octet-stream")
    params = {"MessageUUID": uuid, "From": "14155550123", "To": "14155550199", "Type": "mms", "Text": "my receipt",
              "MediaCount": "1", "Media1": url, "MediaContentType1": claimed_type}
    message, created = message_receive(payload=InboundPayload.from_params(params))
    return message, created


def download_due() -> list[str]:
    return [inbound_media_download(media) for media in inbound_media_claim_due(limit=10)]


def test_a_received_picture_waits_as_a_placeholder_without_plivos_url(fake_plivo):
    message, _ = receive_mms(fake_plivo)
    media = MediaFile.objects.get()
    assert (media.state, media.message, media.direction) == (State.PENDING, message, "inbound")
    assert media.source_url.startswith(fake_plivo.base_url) and "." not in media.source_url.rsplit("/", 1)[1]
    [item] = Message.objects.get(pk=message.pk).media
    assert item == {"url": "", "content_type": "image/jpeg", "attachment_id": media.pk, "name": "", "size": 0,
                    "state": "pending"}
    [created] = InboxEvent.objects.filter(type="message.created")
    assert created.data["message"]["media"] == [item]


def test_the_download_stores_it_typed_from_its_bytes_and_tells_the_inbox(fake_plivo, django_capture_on_commit_callbacks):
    message, _ = receive_mms(fake_plivo, claimed_type="")  # no type from Plivo, no extension in the URL
    with django_capture_on_commit_callbacks(execute=True):
        assert download_due() == [State.STORED]
    media = MediaFile.objects.get()
    assert (media.content_type, media.size, media.attempts) == ("image/png", len(PNG), 1)
    assert media.file.read() == PNG
    assert media.name == f"image-{message.pk}-1.png"
    [item] = Message.objects.get(pk=message.pk).media
    assert item["url"] == f"/inbox/media/{media.pk}/" and item["state"] == "stored"
    [updated] = InboxEvent.objects.filter(type="message.updated")
    assert updated.data["message"]["media"] == [item]


def test_the_download_sends_the_plivo_credentials_and_without_them_gives_up(fake_plivo, settings):
    receive_mms(fake_plivo)
    settings.PLIVO_AUTH_TOKEN = "not-the-token"
    assert download_due() == [State.FAILED]  # 401: not something a retry fixes
    assert "401" in MediaFile.objects.get().last_error
    assert fake_plivo.media.downloads == []  # refused before anything was served


def test_a_failed_download_is_retried_later_with_backoff(fake_plivo, settings):
    settings.INBOUND_MEDIA_RETRY_BASE_SECONDS = 60
    receive_mms(fake_plivo)
    fake_plivo.media.fail_downloads(503, count=2)
    start = timezone.now()
    assert download_due() == [State.PENDING]
    media = MediaFile.objects.get()
    assert 60 <= (media.next_attempt_at - start).total_seconds() <= 125
    assert download_due() == []  # not due yet
    with time_machine.travel(media.next_attempt_at + timedelta(seconds=1)):
        assert download_due() == [State.PENDING]
        second = MediaFile.objects.get().next_attempt_at
    assert (second - media.next_attempt_at).total_seconds() >= 120  # doubled
    with time_machine.travel(second + timedelta(seconds=1)):
        assert download_due() == [State.STORED]
    assert MediaFile.objects.get().attempts == 3 and len(fake_plivo.media.downloads) == 3


def test_it_gives_up_after_the_last_attempt_and_the_thread_says_so(fake_plivo, settings):
    settings.INBOUND_MEDIA_MAX_ATTEMPTS = 2
    settings.INBOUND_MEDIA_RETRY_BASE_SECONDS = 0
    message, _ = receive_mms(fake_plivo)
    fake_plivo.media.fail_downloads(500, count=5)
    assert download_due() == [State.PENDING]
    assert download_due() == [State.FAILED]
    [item] = Message.objects.get(pk=message.pk).media
    assert item["state"] == "failed" and item["url"] == ""


def test_a_file_over_the_size_cap_is_not_kept(fake_plivo, settings):
    settings.INBOUND_MEDIA_MAX_BYTES = 1 * MB
    receive_mms(fake_plivo, data=jpeg(2 * MB))
    assert download_due() == [State.FAILED]
    media = MediaFile.objects.get()
    assert "1 MB" in media.last_error and not media.file


def test_a_declared_type_is_not_believed_over_the_bytes(fake_plivo):
    receive_mms(fake_plivo, data=b"<html><script>alert(1)</script></html>", claimed_type="image/jpeg")
    assert download_due() == [State.STORED]
    assert MediaFile.objects.get().content_type == "application/octet-stream"


def test_a_retried_webhook_does_not_download_twice(fake_plivo):
    receive_mms(fake_plivo)
    _, created = receive_mms(fake_plivo)
    assert not created
    assert MediaFile.objects.count() == 1


def test_two_workers_never_take_the_same_download(fake_plivo):
    receive_mms(fake_plivo)
    assert len(inbound_media_claim_due(limit=5)) == 1
    assert inbound_media_claim_due(limit=5) == []


def test_a_download_whose_worker_died_is_taken_again_after_its_claim_expires(fake_plivo):
    receive_mms(fake_plivo)
    [claimed] = inbound_media_claim_due(limit=5)
    with time_machine.travel(claimed.next_attempt_at + timedelta(seconds=1)):
        assert download_due() == [State.STORED]


def test_the_outbound_worker_downloads_due_media_as_a_chore(fake_plivo):
    receive_mms(fake_plivo)
    drain()
    assert MediaFile.objects.get().state == State.STORED


def test_credentials_go_only_to_plivo_hosts(settings):
    settings.PLIVO_API_BASE_URL = "https://api.plivo.com"
    assert _sends_credentials("https://media.plivo.com/Account/MA/Message/u/Media/m")
    assert not _sends_credentials("https://attacker.example/Account/MA/Message/u/Media/m")
    assert not _sends_credentials("https://media.plivo.com.attacker.example/x")


def test_a_customers_file_opens_only_for_agents(fake_plivo, client, agent, outsider):
    receive_mms(fake_plivo)
    download_due()
    url = f"/inbox/media/{MediaFile.objects.get().pk}/"
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    client.force_login(agent)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_erasing_the_contact_deletes_its_media(fake_plivo, staff, django_capture_on_commit_callbacks):
    from conversations.privacy.erase import contact_erase

    message, _ = receive_mms(fake_plivo)
    download_due()
    stored = MediaFile.objects.get().file
    assert stored.storage.exists(stored.name)
    with django_capture_on_commit_callbacks(execute=True):
        contact_erase(contact=message.conversation.contact, by=staff, reason="customer asked")
    assert not MediaFile.objects.exists()
    assert not stored.storage.exists(stored.name)
