"""Attachments: an agent uploads a file (POST /api/v1/attachments/), sends it, and Parley hands it
to Plivo through the Media API (`media_ids`), never through a public URL of its own."""

import pytest

from conversations.models import MediaFile, MessageStatus
from conversations.outbound import message_send
from conversations.tests.media_support import HTML, MB, PDF, PNG, jpeg, media_root, upload  # noqa: F401 (fixture)
from conversations.tests.outbound_support import attempts, drain, fast_retries, open_conversation, reload  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]
URL = "/api/v1/attachments/"


def post_file(client, data, name="photo.png", content_type="image/png", **extra):
    return client.post(URL, {"file": upload(data, name, content_type), **extra}, format="multipart")


@pytest.fixture
def conversation():
    return open_conversation(phone="+14155550123")


def send_attachment(client, conversation, attachment_id, **body):
    return client.post(f"/api/v1/conversations/{conversation.pk}/messages/",
                       {"kind": "media", "attachments": [attachment_id], **body}, format="json")


# --- the upload ---------------------------------------------------------------------------------
def test_an_upload_answers_its_id_and_the_type_read_from_its_bytes(agent_client, agent):
    response = post_file(agent_client, PNG, name="../../receipt.png", content_type="application/octet-stream")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {"id": body["id"], "content_type": "image/png", "size": len(PNG), "name": "receipt.png"}
    media = MediaFile.objects.get(pk=body["id"])
    assert media.uploaded_by == agent and media.message is None
    assert media.file.read() == PNG


def test_a_web_page_named_like_a_picture_is_refused(agent_client):
    response = post_file(agent_client, HTML, name="cute.png", content_type="image/png")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "file"
    assert response.json()["error"]["code"] == "unsupported_media"
    assert not MediaFile.objects.exists()


def test_a_picture_too_large_for_whatsapp_is_refused_with_the_limit_before_it_is_stored(agent_client):
    response = post_file(agent_client, jpeg(6 * MB), name="big.jpg", content_type="image/jpeg", channel="whatsapp")
    assert response.status_code == 422
    assert "5 MB" in response.json()["error"]["message"] and "big.jpg" in response.json()["error"]["message"]
    assert not MediaFile.objects.exists()


def test_a_file_over_the_attachment_limit_is_refused(agent_client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    response = post_file(agent_client, PDF + b" " * 2000, name="long.pdf", content_type="application/pdf")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_an_empty_or_missing_file_is_a_400_naming_the_field(agent_client):
    assert post_file(agent_client, b"", name="empty.pdf").json()["error"]["field"] == "file"
    response = agent_client.post(URL, {}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["field"] == "file"


def test_non_agents_cannot_upload(api_client, outsider):
    assert post_file(api_client, PNG).status_code == 401
    api_client.force_authenticate(outsider)
    assert post_file(api_client, PNG).status_code == 403
    assert not MediaFile.objects.exists()


# --- sending it -----------------------------------------------------------------------------------
def test_an_attachment_is_sent_through_plivos_media_api(agent_client, conversation, fake_plivo):
    attachment_id = post_file(agent_client, PNG).json()["id"]
    response = send_attachment(agent_client, conversation, attachment_id, text="Your receipt")
    assert response.status_code == 202, response.json()
    message = reload_message(response.json()["id"])
    assert message.media == [{"url": f"/inbox/media/{attachment_id}/", "content_type": "image/png",
                              "attachment_id": attachment_id, "name": "photo.png", "size": len(PNG)}]
    drain()
    [uploaded] = fake_plivo.media.uploads()
    assert uploaded.data == PNG and uploaded.content_type == "image/png"
    [request] = fake_plivo.sends()
    assert request.body["media_ids"] == [uploaded.media_id]
    assert "media_urls" not in request.body
    assert request.body["text"] == "Your receipt"
    assert reload(message).status == MessageStatus.SENDING
    assert MediaFile.objects.get(pk=attachment_id).plivo_media_id == uploaded.media_id


def test_a_retried_send_does_not_upload_the_file_again(agent_client, conversation, fake_plivo, fast_retries):
    attachment_id = post_file(agent_client, PNG).json()["id"]
    fake_plivo.fail_next(500)  # the message request, after the upload went through
    message = reload_message(send_attachment(agent_client, conversation, attachment_id).json()["id"])
    drain()
    assert len(fake_plivo.media.uploads()) == 1
    assert [r.status for r in fake_plivo.sends()] == [500, 202]
    assert len(attempts(message)) == 2
    assert reload(message).status == MessageStatus.SENDING


def test_a_failed_upload_is_retried_and_sends_once(agent_client, conversation, fake_plivo, fast_retries):
    attachment_id = post_file(agent_client, PNG).json()["id"]
    fake_plivo.rate_limit = (0, 1.0)  # every request refused (429) until lifted
    message = reload_message(send_attachment(agent_client, conversation, attachment_id).json()["id"])
    from conversations.outbound import outbound_job_process

    assert outbound_job_process(message_id=message.pk) == "throttled"
    assert fake_plivo.sends() == [] and fake_plivo.media.uploads() == []
    fake_plivo.rate_limit = None
    drain()
    assert len(fake_plivo.media.uploads()) == 1 and len(fake_plivo.sends()) == 1


def test_whatsapp_refuses_an_attachment_over_its_limit_at_send_time(agent_client, conversation):
    attachment_id = post_file(agent_client, jpeg(6 * MB), name="big.jpg", content_type="image/jpeg").json()["id"]
    response = send_attachment(agent_client, conversation, attachment_id)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "attachments.0"
    assert "5 MB" in response.json()["error"]["message"]
    assert not conversation.messages.exists()


def test_one_attachment_cannot_be_sent_twice_or_by_another_agent(agent_client, conversation, other_agent, api_client):
    attachment_id = post_file(agent_client, PDF, name="invoice.pdf", content_type="application/pdf").json()["id"]
    from rest_framework.test import APIClient

    other = APIClient()
    other.force_authenticate(other_agent)
    refused = send_attachment(other, conversation, attachment_id)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "attachment_not_found"
    assert send_attachment(agent_client, conversation, attachment_id).status_code == 202
    again = send_attachment(agent_client, conversation, attachment_id)
    assert again.status_code == 422 and again.json()["error"]["code"] == "attachment_used"


def test_attachments_without_a_kind_make_a_media_message(agent_client, conversation):
    attachment_id = post_file(agent_client, PDF, name="invoice.pdf", content_type="application/pdf").json()["id"]
    response = agent_client.post(f"/api/v1/conversations/{conversation.pk}/messages/", {"attachments": [attachment_id]},
                                 format="json")
    assert response.status_code == 202 and response.json()["kind"] == "media"


def test_an_mms_carries_attachments_and_urls_together(agent, fake_plivo):
    from conversations.services.attachments import attachment_create

    sms = open_conversation(channel="sms", phone="+14155550124")
    media = attachment_create(upload=upload(PNG), uploaded_by=agent)
    message, _ = message_send(kind="media", conversation=sms, sent_by=agent, attachments=[media.pk],
                              media_urls=["https://example.com/map.png"])
    drain()
    [request] = fake_plivo.sends()
    assert request.body["type"] == "mms"
    assert request.body["media_urls"] == ["https://example.com/map.png"]
    assert len(request.body["media_ids"]) == 1


# --- reading it back ------------------------------------------------------------------------------
def test_only_agents_can_open_a_stored_file(client, agent, outsider, agent_client):
    attachment_id = post_file(agent_client, PNG).json()["id"]
    url = f"/inbox/media/{attachment_id}/"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    client.force_login(agent)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_document_is_downloaded_rather_than_opened(client, agent, agent_client):
    attachment_id = post_file(agent_client, PDF, name="invoice.pdf", content_type="application/pdf").json()["id"]
    client.force_login(agent)
    response = client.get(f"/inbox/media/{attachment_id}/")
    assert response["Content-Disposition"].startswith("attachment;") and "invoice.pdf" in response["Content-Disposition"]


def reload_message(pk):
    from conversations.models import Message

    return Message.objects.get(pk=pk)


def test_the_inbox_loads_media_only_from_parley(client, agent):
    client.force_login(agent)
    policy = client.get("/inbox/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    for directive in ("img-src", "media-src"):
        sources = directives[directive].split()
        assert "'self'" in sources
        assert not {"http:", "https:", "*"} & set(sources), directive


@pytest.mark.asyncio
async def test_an_upload_may_be_larger_than_other_bodies_but_not_than_the_attachment_limit(settings):
    from django.core.asgi import get_asgi_application

    from messaging_site.body_limit import BodySizeLimit
    from webhooks.tests.test_body_limit import call, http_scope

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.ATTACHMENT_MAX_BYTES = 5000
    app = BodySizeLimit(get_asgi_application())

    def length(size):
        return [(b"content-length", str(size).encode())]

    status, *_ = await call(app, http_scope(URL, length(200_000)), [], then_disconnect=True)
    assert status == 413  # over ATTACHMENT_MAX_BYTES and the multipart allowance
    status, *_ = await call(app, http_scope("/api/v1/messages/", length(3000)), [], then_disconnect=True)
    assert status == 413  # the ordinary limit elsewhere
    status, *_ = await call(app, http_scope(URL, length(3000)), [b"x" * 3000])
    assert status != 413  # reaches the endpoint (which then refuses the unauthenticated caller)


def test_an_upload_never_sent_is_deleted_after_a_day_and_a_sent_one_is_kept(agent_client, conversation,
                                                                             django_capture_on_commit_callbacks):
    import time_machine
    from datetime import timedelta

    from django.utils import timezone

    from conversations.services.attachments import attachments_unsent_prune

    abandoned = MediaFile.objects.get(pk=post_file(agent_client, PNG).json()["id"])
    sent_id = post_file(agent_client, PDF, name="invoice.pdf", content_type="application/pdf").json()["id"]
    send_attachment(agent_client, conversation, sent_id)
    assert attachments_unsent_prune() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        with django_capture_on_commit_callbacks(execute=True):
            assert attachments_unsent_prune() == 1
    assert list(MediaFile.objects.values_list("pk", flat=True)) == [sent_id]
    assert not abandoned.file.storage.exists(abandoned.file.name)


@pytest.mark.parametrize("head, declared, expected", [
    (PNG, "application/octet-stream", "image/png"),
    (b"ID3\x03\x00" + b"\x00" * 64, "", "audio/mpeg"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 32, "audio/wav", "audio/wav"),
    (b"name,total\nAda,12\n", "text/csv", "text/csv"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "application/vnd.ms-excel", "application/vnd.ms-excel"),
    (b"\x00\x01binary", "text/plain", "application/octet-stream"),
    (HTML, "text/html; charset=utf-8", "text/plain"),  # kept as text, never served as a page
    (b"random bytes", "image/jpeg", "application/octet-stream"),
])
def test_the_type_comes_from_the_bytes(head, declared, expected):
    from conversations.services.attachments import content_type_sniff

    assert content_type_sniff(head, declared=declared) == expected


def test_a_repeated_send_with_its_key_replays_and_other_files_under_it_are_refused(agent_client, conversation):
    first_id = post_file(agent_client, PNG).json()["id"]
    other_id = post_file(agent_client, PDF, name="invoice.pdf", content_type="application/pdf").json()["id"]
    headers = {"HTTP_IDEMPOTENCY_KEY": "send-1"}
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    first = agent_client.post(url, {"attachments": [first_id]}, format="json", **headers)
    again = agent_client.post(url, {"attachments": [first_id]}, format="json", **headers)
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = agent_client.post(url, {"attachments": [other_id]}, format="json", **headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
