"""Staff manage templates, contacts and conversations in the admin; agents cannot get in."""

import pytest
from django.urls import reverse

from conversations.models import MessageStatusEvent, MessageTemplate, SendAttempt
from conversations.tests.factories import ContactFactory, MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db


def test_agents_do_not_reach_the_admin(client, agent):
    client.force_login(agent)
    response = client.get(reverse("admin:conversations_messagetemplate_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_filter_templates_by_status(client, staff):
    MessageTemplateFactory(name="approved_one", status="APPROVED")
    MessageTemplateFactory(name="paused_one", status="PAUSED")
    client.force_login(staff)
    response = client.get(reverse("admin:conversations_messagetemplate_changelist"), {"status__exact": "PAUSED"})
    assert b"paused_one" in response.content and b"approved_one" not in response.content


def test_template_page_shows_an_escaped_preview(client, staff):
    template = MessageTemplateFactory(body="Hi {{1}} <script>alert(1)</script>", footer="Shop")
    client.force_login(staff)
    response = client.get(reverse("admin:conversations_messagetemplate_change", args=[template.pk]))
    assert b"Hi &lt;1&gt; &lt;script&gt;alert(1)&lt;/script&gt;" in response.content
    assert b"<script>alert(1)</script>" not in response.content


def test_template_with_a_gap_in_its_variables_is_refused(client, staff):
    client.force_login(staff)
    response = client.post(
        reverse("admin:conversations_messagetemplate_add"),
        {"name": "gappy", "language": "en_US", "category": "UTILITY", "status": "APPROVED",
         "header_type": "none", "body": "Hi {{1}}, see {{3}}", "buttons": "[]"},
    )
    assert response.status_code == 200
    assert b"without gaps" in response.content
    assert not MessageTemplate.objects.filter(name="gappy").exists()


def test_contacts_are_searchable_by_phone(client, staff):
    ContactFactory(phone="+14155559876", display_name="Findable Person")
    ContactFactory(phone="+14155551234", display_name="Other Person")
    client.force_login(staff)
    response = client.get(reverse("admin:conversations_contact_changelist"), {"q": "9876"})
    assert b"Findable Person" in response.content and b"Other Person" not in response.content


def test_messages_are_read_only_history(client, staff):
    message = MessageFactory(text="original words")
    client.force_login(staff)
    url = reverse("admin:conversations_message_change", args=[message.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"text": "rewritten"})
    message.refresh_from_db()
    assert message.text == "original words"
    assert client.get(reverse("admin:conversations_message_add")).status_code == 403


def test_messages_and_their_history_show_read_only_on_their_parents_page(client, staff):
    message = MessageFactory(text="inline words", direction="outbound", status="sent")
    SendAttempt.objects.create(message=message, number=1, outcome="accepted", detail="accepted as 5e0a")
    MessageStatusEvent.objects.create(message=message, plivo_message_uuid="5e0a", status="delivered", dedupe_key="5e0a:delivered:")
    client.force_login(staff)
    page = client.get(reverse("admin:conversations_conversation_change", args=[message.conversation_id])).content.decode()
    assert "inline words" in page and 'name="messages-0-text"' not in page
    page = client.get(reverse("admin:conversations_message_change", args=[message.pk])).content.decode()
    assert "accepted as 5e0a" in page and 'name="send_attempts-0-detail"' not in page
    assert 'name="status_events-0-status"' not in page and 'name="status_events-TOTAL_FORMS" value="1"' in page
