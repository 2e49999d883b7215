"""A durable job queue in one SQLite file, for threads and processes on one machine.

Producing::

    from qtui.sqlite_queue import SQLiteQueue

    q = SQLiteQueue.open("jobs.db", create=True)
    job_id = q.enqueue("email", {"to": "ana@example.com"}, priority=5, max_attempts=3)
    q.enqueue("reports", '{"month": "2024-05"}', delay=60)   # JSON text works too
    q.enqueue_many("thumbnails", [{"image": n} for n in range(100)])   # one transaction

Consuming::

    import threading

    stop = threading.Event()
    with q.worker(["email", "reports"], lease_seconds=30) as w:   # queues tried in order
        w.run(send_email, stop)   # acks when send_email(job) returns, fails it when it raises

or by hand::

    job = w.reserve(timeout=5)        # a ReservedJob (id, queue, payload, attempt, ...) or None
    if job is not None:
        w.heartbeat(job)              # extend the lease during long work
        w.ack(job)                    # or w.fail(job, "SMTP 451: try again later")
    q.close()

Semantics:

- Jobs run highest `priority` first, then oldest first. Payloads are strict JSON.
  Job ids are increasing integers (as strings), never reused.
- `reserve` moves a job to *processing* under a lease of `lease_seconds` in one
  write transaction (BEGIN IMMEDIATE + UPDATE ... RETURNING): two workers, in any
  threads or processes, never hold the same job.
- `ack`, `fail` and `heartbeat` check the job is still held by this worker under
  this very reservation (else `LeaseLost`). A failed job waits (*scheduled*) for
  an exponential backoff with jitter, ``retry_base * 2**(attempt-1)`` seconds
  capped at `retry_cap`, then runs again; after `max_attempts` it is *dead*, its
  last error kept.
- A lease that expires (the worker died or hung) puts the job back to *ready*, or
  *dead* with the error "lease expired ..." when it is out of attempts. Delivery is
  at least once: a worker that outlives its lease may see its work redone.
- `maintenance()` (run by `Worker.run` every minute) prunes completed jobs beyond
  `Retention.keep_completed` per queue or older than `Retention.completed_max_age`,
  old rate buckets and long-silent workers.
- `snapshot()` returns the model's Snapshot (counts per state, per-minute rates,
  a completions sparkline, workers) from counters kept by triggers: its cost grows
  with the number of queues, not jobs.

`SQLiteQueue.open(path, create=False, read_only=False, busy_timeout=5.0,
durable=True, retention=Retention())`: `busy_timeout` is how long a write waits
for another process's lock; `durable=False` skips the sync at each commit (safe
against a crash of the program, not against power loss).

Errors are the model's: BackendUnavailable (missing, locked, corrupt file, newer
schema), ReadOnlyError, InvalidInput (bad queue name or JSON), each naming the file.
The admin side (peek, search, requeue, purge) is qtui.backends.sqlite.
"""

from qtui.sqlite_queue.db import SCHEMA_VERSION, Database
from qtui.sqlite_queue.queue import LeaseLost, ReservedJob, Retention, SQLiteQueue, Worker

__all__ = [
    "SCHEMA_VERSION",
    "Database",
    "LeaseLost",
    "ReservedJob",
    "Retention",
    "SQLiteQueue",
    "Worker",
]
