import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "messaging_site.settings")
# Django must be set up before the consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from conversations.routing import websocket_urlpatterns  # noqa: E402
from messaging_site.body_limit import BodySizeLimit  # noqa: E402
from messaging_site.origins import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Embedded default (`make run`): this web process also drains the outbound queue and applies
# received webhooks. Started here, not in AppConfig.ready(), so management commands and tests
# never start a worker.
from django.conf import settings  # noqa: E402

if settings.OUTBOUND_WORKER_EMBEDDED:
    from conversations.outbound import start_embedded_worker  # noqa: E402

    start_embedded_worker()

if settings.WEBHOOK_WORKER_EMBEDDED:
    from webhooks.worker import start_embedded_worker as start_embedded_webhook_worker  # noqa: E402

    start_embedded_webhook_worker()

# Everything loaded so far (Django, the apps, the URLconf) lives as long as the process: keep it
# out of the garbage collector's full passes, whose pauses otherwise set the latency tail
# (bench/webhook_ingest.py: the trivial view's p99 at 16 clients fell from ~150 to ~90 ms).
import gc  # noqa: E402

gc.collect()
gc.freeze()
