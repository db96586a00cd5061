"""Benchmark: media through Parley, against the fake Plivo API over HTTP (`--latency` per request).

  1. sniff     the content type read from a file's first 8 KB (`content_type_sniff`), per call;
  2. inbound   `--inbound` MMS, each with one `--size-kb` picture kept by the fake Plivo behind
               basic auth, downloaded by `--threads` download threads (what the outbound worker's
               chore runs in its pool): wall time, MB/s, per-download p50/p95;
  3. outbound  `--outbound` messages with an uploaded attachment, drained by an outbound worker
               (`--threads` send threads) beside as many text messages: Plivo requests per
               message (upload + send) and the drain time of each kind, under Plivo's account
               limit of 300 requests per 5 s.

Every inbound file is checked stored with its type and size; every attachment uploaded once and
sent once.

    createdb -h 127.0.0.1 -U postgres parley_media_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley_media_bench \\
        .venv/bin/python bench/media_pipeline.py [--latency 0.1] [--inbound 200] [--outbound 100]

The database is wiped (manage.py flush): its name must contain "bench".
"""

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from support import BENCH_PLIVO_AUTH_ID, BENCH_PUBLIC_BASE_URL, BENCH_SMS_NUMBER, django_setup, percentile, wipeable_database_url

AUTH_TOKEN = secrets.token_urlsafe(24)
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def picture(size: int) -> bytes:
    return PNG_HEAD + os.urandom(size - len(PNG_HEAD))


def bench_sniff() -> float:
    from conversations.services.attachments import content_type_sniff

    heads = [picture(8192), b"%PDF-1.4\n" + os.urandom(8183), ("plain text, " * 700).encode()[:8192]]
    rounds = 3000
    start = time.perf_counter()
    for _ in range(rounds):
        for head in heads:
            content_type_sniff(head, declared="text/plain")
    return (time.perf_counter() - start) / (rounds * len(heads)) * 1e6


def bench_inbound(fake, count: int, size: int, threads: int) -> dict:
    from django.db import connection

    from conversations.models import MediaFile
    from conversations.services.inbound import message_receive
    from conversations.services.media_download import inbound_media_claim_due, inbound_media_download
    from webhooks.payloads import InboundPayload

    data = picture(size)
    for n in range(count):
        uuid = f"00000000-0000-4000-8000-{n:012d}"
        url = fake.media.add_inbound(message_uuid=uuid, data=data, content_type="application/octet-stream")
        message_receive(payload=InboundPayload.from_params({
            "MessageUUID": uuid, "From": f"1415555{5000 + n % 4000:04d}", "To": BENCH_SMS_NUMBER.lstrip("+"),
            "Type": "mms", "Text": "photo", "MediaCount": "1", "Media1": url}))
    durations = []
    lock = threading.Lock()

    def drain():
        while claimed := inbound_media_claim_due(limit=1):
            started = time.perf_counter()
            inbound_media_download(claimed[0])
            with lock:
                durations.append(time.perf_counter() - started)
        connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(threads):
            pool.submit(drain)
    wall = time.perf_counter() - start
    stored = MediaFile.objects.filter(state="stored", content_type="image/png", size=size).count()
    assert stored == count, f"{stored} of {count} stored"
    return {"wall": wall, "mb_per_s": count * size / 2**20 / wall, "p50": percentile(durations, 0.5),
            "p95": percentile(durations, 0.95), "downloads": len(fake.media.downloads)}


def bench_outbound(fake, count: int, size: int, threads: int, agent) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from conversations.models import Contact, Conversation, Message
    from conversations.outbound import OutboundWorker, message_send
    from conversations.services.attachments import attachment_create
    from django.utils import timezone

    def conversations(offset):
        result = []
        for n in range(count):
            contact, _ = Contact.objects.get_or_create(phone=f"+1508555{offset + n:04d}")
            result.append(Conversation.objects.create(contact=contact, channel="sms", last_inbound_at=timezone.now()))
        return result

    def drain() -> float:
        worker = OutboundWorker(worker_id="bench", interval=0.01, sweep_interval=60, stop_when_idle=True, concurrency=threads)
        start = time.perf_counter()
        worker.run()
        return time.perf_counter() - start

    data = picture(size)
    for conversation in conversations(0):
        media = attachment_create(upload=SimpleUploadedFile("photo.png", data, content_type="image/png"), uploaded_by=agent)
        message_send(kind="media", conversation=conversation, sent_by=agent, attachments=[media.pk])
    with_file = drain()
    uploads, sends = len(fake.media.uploads()), len(fake.sends())
    for conversation in conversations(count):
        message_send(kind="text", conversation=conversation, sent_by=agent, text="plain text")
    text_only = drain()
    assert uploads == count and sends == count, (uploads, sends)
    assert Message.objects.filter(status="sending").count() == 2 * count
    return {"with_file": with_file, "text_only": text_only, "requests_per_file_message": (uploads + sends) / count}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--inbound", type=int, default=200)
    parser.add_argument("--outbound", type=int, default=100)
    parser.add_argument("--size-kb", type=int, default=512)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    wipeable_database_url()
    media_root = tempfile.mkdtemp(prefix="parley-media-bench-")
    django_setup(PLIVO_SIMULATOR="false", PLIVO_AUTH_ID=BENCH_PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN=AUTH_TOKEN,
                 PLIVO_SMS_NUMBER=BENCH_SMS_NUMBER, PLIVO_WHATSAPP_NUMBER="+14155550100",
                 PUBLIC_BASE_URL=BENCH_PUBLIC_BASE_URL, MEDIA_ROOT=media_root, LOG_LEVEL="WARNING",
                 OUTBOUND_WORKER_EMBEDDED="false", WEBHOOK_WORKER_EMBEDDED="false")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from simulator.fake_plivo import FakePlivoAPI, FakePlivoServer

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    fake = FakePlivoAPI(auth_id=BENCH_PLIVO_AUTH_ID, auth_token=AUTH_TOKEN, auto_report=False, latency=args.latency)
    with FakePlivoServer(fake) as server:
        fake.base_url = settings.PLIVO_API_BASE_URL = server.base_url
        agent = get_user_model().objects.create(username="bench-agent", is_staff=True)
        size = args.size_kb * 1024
        print(f"setup: fake Plivo latency {args.latency} s, {args.threads} threads, files {args.size_kb} KB, "
              f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[1]}, storage {media_root}")
        print(f"sniff: {bench_sniff():.1f} µs per 8 KB head")
        inbound = bench_inbound(fake, args.inbound, size, args.threads)
        print(f"inbound: {args.inbound} downloads in {inbound['wall']:.2f} s ({inbound['mb_per_s']:.1f} MB/s), "
              f"per download p50 {inbound['p50'] * 1000:.0f} ms, p95 {inbound['p95'] * 1000:.0f} ms, "
              f"{inbound['downloads']} requests")
        outbound = bench_outbound(fake, args.outbound, size, args.threads, agent)
        print(f"outbound: {args.outbound} messages with a file drained in {outbound['with_file']:.2f} s "
              f"({outbound['requests_per_file_message']:.1f} Plivo requests each), {args.outbound} text messages "
              f"in {outbound['text_only']:.2f} s")
    call_command("flush", interactive=False, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
