"""Turns a :class:`Post` into webhook messages: limits, mentions, threads, fallbacks, dedupe.

- Embeds are packed within the limits; the files and the mentions go with the first message.
- ``allowed_mentions`` names only the configured users and roles (``parse`` is empty), so
  nothing a user typed can ping anyone.
- Forum mode: a run's first message opens its thread (``thread_name``, ``wait=true``; the
  thread id is the returned message's ``channel_id``), kept in storage; a deleted thread
  (404 Unknown Channel) is opened anew.
- 413: the post is sent again in its no-attachment form.
- 404 Unknown Webhook: :class:`WebhookGoneError` propagates; the exporter stops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from trainwire.errors import PermanentExportError
from trainwire.exporters.discord.client import (
    DiscordClient,
    TooLargeError,
    UnknownThreadError,
    WebhookGoneError,
)
from trainwire.exporters.discord.config import DiscordExporterConfig
from trainwire.exporters.discord.limits import neutralize, pack_embeds, truncate
from trainwire.exporters.discord.messages import Post
from trainwire.exporters.discord.state import DiscordState

__all__ = ["Poster"]

logger = logging.getLogger(__name__)

_MAX_THREAD_NAME = 100


class Poster:
    """Posts to one webhook on behalf of runs."""

    def __init__(
        self,
        config: DiscordExporterConfig,
        *,
        client: DiscordClient,
        state: DiscordState,
        name: str,
    ) -> None:
        self.config = config
        self.client = client
        self.state = state
        self.name = name
        self._thread_locks: dict[str, asyncio.Lock] = {}
        mentions = [f"<@{u}>" for u in config.mention_users]
        mentions += [f"<@&{r}>" for r in config.mention_roles]
        self._mention_text = " ".join(mentions)
        self.refused = 0

    def _base(self, mention: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"username": self.config.username}
        if self.config.avatar_url:
            payload["avatar_url"] = self.config.avatar_url
        allowed: dict[str, Any] = {"parse": []}
        if mention:
            allowed["users"] = list(self.config.mention_users)
            allowed["roles"] = list(self.config.mention_roles)
        payload["allowed_mentions"] = allowed
        if mention and self._mention_text:
            payload["content"] = self._mention_text
        return payload

    async def post(self, run_id: str | None, thread_name: str, post: Post, uid: str = "") -> bool:
        """Post unless ``uid`` was posted before; False when Discord refused it (logged)."""
        if uid and await self.state.posted(run_id, uid) is not None:
            return True
        try:
            first_id = await self._post(run_id, thread_name, post, uid)
        except TooLargeError as exc:
            if post.without_files is None:
                return self._refused(exc, uid)
            logger.warning("%s: %s; posting it without attachments", self.name, exc)
            return await self.post(run_id, thread_name, post.without_files, uid)
        except WebhookGoneError:
            raise
        except PermanentExportError as exc:
            return self._refused(exc, uid)
        if uid:
            await self.state.mark_posted(run_id, uid, first_id)
        return True

    def _refused(self, exc: Exception, uid: str) -> bool:
        self.refused += 1
        logger.error("%s: Discord refused a message (%s); skipping it", self.name, exc)
        return False

    async def _post(self, run_id: str | None, thread_name: str, post: Post, uid: str) -> str:
        chunks = pack_embeds(post.embeds) or [[]]
        first_id = ""
        for index, embeds in enumerate(chunks):
            # A post in several messages keeps each part's id: when a later part fails and
            # the post is retried (now or after a restart), the parts that went out are skipped.
            part = f"{uid}#{index}" if uid and len(chunks) > 1 else ""
            done = await self.state.posted(run_id, part) if part else None
            if done is None:
                payload = self._base(post.mention and index == 0)
                if embeds:
                    payload["embeds"] = embeds
                files = post.files if index == 0 else []
                message = await self._send(run_id, thread_name, payload, files)
                done = str(message.get("id", ""))
                if part:
                    await self.state.mark_posted(run_id, part, done)
            first_id = first_id or done
        return first_id

    async def _send(
        self, run_id: str | None, thread_name: str, payload: dict[str, Any], files: Any
    ) -> dict[str, Any]:
        if self.config.mode != "forum" or run_id is None:
            return await self.client.execute(payload, files=files)
        lock = self._thread_locks.setdefault(run_id, asyncio.Lock())
        async with lock:  # one thread per run, even when progress and events race
            for _ in range(2):
                thread_id = await self.state.thread(run_id)
                if thread_id is None:
                    name = truncate(neutralize(thread_name or run_id), _MAX_THREAD_NAME)
                    message = await self.client.execute(
                        {**payload, "thread_name": name}, files=files
                    )
                    created = str(message.get("channel_id") or message.get("id") or "")
                    if created:
                        await self.state.set_thread(run_id, created)
                    return message
                try:
                    return await self.client.execute(payload, thread_id=thread_id, files=files)
                except UnknownThreadError:
                    logger.warning(
                        "%s: the thread of run %s was deleted; opening a new one", self.name, run_id
                    )
                    await self.state.forget_thread(run_id)
        raise PermanentExportError(f"cannot post in the thread of run {run_id}")

    async def has_thread(self, run_id: str) -> bool:
        """Whether the run already has its forum thread."""
        return await self.state.thread(run_id) is not None
