"""A local Discord-compatible webhook server for tests, written from REFERENCE.md §2.

It implements Execute Webhook (``POST /api[/vN]/webhooks/{id}/{token}``) as Discord
documents it, independently of the exporter:

- JSON or ``multipart/form-data`` (``payload_json`` + ``files[n]``, ≤ 10 files); the
  files together above ``max_upload_bytes`` (10 MiB by default) → 413, code 40005.
- Message limits (:mod:`.limits`): content 2000, 10 embeds, title 256, description
  4096, 25 fields, field name 256 / value 1024, footer 2048, author 256, 6000 in all;
  username 1–80 without "clyde"/"discord"; ``allowed_mentions`` and ``flags`` rules.
  Broken → 400 with code 50035 (50006 for an empty message).
- Forum webhooks need ``thread_name`` (creates a thread) or ``?thread_id``, never both;
  ``thread_name`` only for forum webhooks; an unknown ``thread_id`` → 404 code 10003.
- ``?wait=true`` returns the Message (``id``; ``channel_id`` = the thread's id for a
  thread, a forum post's starter message id equals the thread id; who it ``mentions``,
  ``mention_roles``, ``mention_everyone``, from the content as ``allowed_mentions``
  permits); otherwise 204.
- A bucket per webhook (or one shared, ``shared_bucket``): ``limit`` requests per
  ``window_s`` with the ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket``
  headers; an empty bucket answers 429 with ``{"message", "retry_after", "global"}``,
  ``Retry-After`` and ``X-RateLimit-Scope``. A global 429 can be armed.
- Unknown or deleted webhook → 404 code 10015; wrong token → 401 code 50027.
- Failure injection (``fail_next``) and deletion (``delete_webhook``).

Every request is recorded (:class:`Recorded`); ``limit_breaks`` lists the requests that
broke a limit (a 400 for a message limit, or a request sent while a 429 it received
still told it to wait).
"""

from .limits import check_message, mentions
from .server import FakeDiscord, Recorded

__all__ = ["FakeDiscord", "Recorded", "check_message", "mentions"]
