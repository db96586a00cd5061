"""What the benchmark scripts share: Django set up from the environment, the check that a
database is one a benchmark may wipe, the production-like environment of the server and
worker processes they start, and percentiles. Imports nothing of Django at load time."""

import os
import secrets
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_PLIVO_AUTH_ID = "MABENCHMARKXXXXXXXXX"
BENCH_PUBLIC_BASE_URL = "https://parley-bench.example"
BENCH_SMS_NUMBER = "+14155550199"


def django_setup(**defaults: str) -> None:
    """Set Django up in this process from its environment (DEBUG on unless set otherwise);
    `defaults` fill variables the environment does not set."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "messaging_site.settings")
    os.environ.setdefault("DEBUG", "true")
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


def wipeable_database_url() -> str:
    """DATABASE_URL, if it names a PostgreSQL database whose name says it is for benchmarks:
    the benchmark empties it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmark runs on PostgreSQL).")
    if "bench" not in urlsplit(url).path:
        sys.exit("The benchmark wipes its database: use one whose name contains 'bench' (e.g. parley_bench).")
    return url


def production_env(**overrides: str) -> dict:
    """This process's environment with production settings for a server or worker process it
    starts: DEBUG off, a fresh SECRET_KEY, the benchmark's Plivo account, no embedded worker."""
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        PUBLIC_BASE_URL=BENCH_PUBLIC_BASE_URL,
        PLIVO_SIMULATOR="false",
        PLIVO_AUTH_ID=BENCH_PLIVO_AUTH_ID,
        PLIVO_WHATSAPP_NUMBER="+14155550100",
        PLIVO_SMS_NUMBER=BENCH_SMS_NUMBER,
        OUTBOUND_WORKER_EMBEDDED="false",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


def percentile(values, fraction: float) -> float:
    """The nearest-rank percentile: `fraction` 0.95 gives p95."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
