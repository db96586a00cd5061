"""Staff manage labels and canned replies in the admin; agents cannot."""

import pytest
from django.urls import reverse

from conversations.models import CannedReply, Label
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["label", "cannedreply"])
def test_agents_do_not_reach_label_or_canned_reply_admin(client, agent, name):
    client.force_login(agent)
    response = client.get(reverse(f"admin:conversations_{name}_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_label_changelist_shows_a_swatch_the_csp_allows_and_escapes_the_name(client, staff):
    label = Label.objects.create(name="<script>alert(1)</script>", colour="#2563eb")
    for conversation in ConversationFactory.create_batch(2):
        conversation.labels.add(label)
    client.force_login(staff)
    response = client.get(reverse("admin:conversations_label_changelist"))
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # An image, not a style attribute: the CSP (style-src 'self') would drop an inline style.
    assert 'class="parley-swatch" src="data:image/svg+xml,' in page and "fill%3D%27%232563eb%27" in page
    assert 'style="' not in page.split('id="result_list"')[1].split("</table>")[0]
    assert '<td class="field-conversation_count">2</td>' in page


def test_label_form_picks_a_colour_and_refuses_a_name_taken_in_another_case(client, staff):
    Label.objects.create(name="billing", colour="#2563eb")
    client.force_login(staff)
    add = reverse("admin:conversations_label_add")
    assert 'type="color"' in client.get(add).content.decode()
    response = client.post(add, {"name": "Billing", "colour": "#000000"})
    assert response.status_code == 200 and b"names are compared ignoring case" in response.content
    response = client.post(add, {"name": "  vip  ", "colour": "#f59e0b"})
    assert response.status_code == 302
    assert Label.objects.get(colour="#f59e0b").name == "vip"


def test_canned_reply_form_refuses_an_unknown_placeholder_and_search_finds_text(client, staff):
    client.force_login(staff)
    add = reverse("admin:conversations_cannedreply_add")
    response = client.post(add, {"shortcut": "hello", "title": "Hello", "text": "Hi {{contact.first_name}}"})
    assert response.status_code == 200 and b"Unknown placeholder {{contact.first_name}}" in response.content
    assert client.post(add, {"shortcut": "hello", "title": "Hello", "text": "Hi {{contact.name}}"}).status_code == 302
    CannedReply.objects.create(shortcut="other", title="Other", text="Unrelated words")
    response = client.get(reverse("admin:conversations_cannedreply_changelist"), {"q": "contact.name"})
    results = response.content.decode().split('id="result_list"')[1].split("</table>")[0]
    assert "Hello" in results and "Other" not in results


def test_a_conversations_labels_show_read_only_in_its_admin_page(client, staff):
    conversation = ConversationFactory()
    conversation.labels.add(Label.objects.create(name="vip", colour="#f59e0b"))
    client.force_login(staff)
    page = client.get(reverse("admin:conversations_conversation_change", args=[conversation.pk])).content.decode()
    assert "vip" in page and 'name="labels"' not in page
