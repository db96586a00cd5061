"""What `make run` prints: where to go, with the simulator's one-minute walkthrough."""

import socket
from io import StringIO

from django.core.management import call_command

from conversations.tests.live_server import free_port


def welcome(**options) -> str:
    out = StringIO()
    call_command("parley_welcome", stdout=out, **options)
    return out.getvalue()


def test_welcome_names_every_place_and_a_demo_customer_phone(settings):
    settings.PLIVO_SIMULATOR = True
    port = free_port()

    text = welcome(host="0.0.0.0", port=str(port))

    origin = f"http://127.0.0.1:{port}"
    for place in ("/inbox/", "/simulator/", "/admin/", "/api/v1/docs/"):
        assert origin + place in text
    assert "alice  password parley-alice-demo" in text
    assert f"{origin}/simulator/?phone=%2B14155550101&channel=whatsapp&name=Maria+Garcia" in text
    assert "already listens" not in text


def test_welcome_warns_when_the_port_is_taken(settings):
    settings.PLIVO_SIMULATOR = True
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        text = welcome(port=str(port))

    assert f"something already listens on 127.0.0.1:{port}" in text


def test_welcome_without_the_simulator_shows_the_plivo_message_url(settings):
    settings.PLIVO_SIMULATOR = False
    settings.PUBLIC_BASE_URL = "https://parley.example.com"

    text = welcome(port=str(free_port()))

    assert "/simulator/" not in text
    assert "message URL https://parley.example.com/webhooks/plivo/message/" in text
