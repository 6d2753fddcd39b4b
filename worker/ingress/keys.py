"""Typed application keys shared by the ingress handlers."""

from __future__ import annotations

from aiohttp import web

from worker.bootstrap import IngressStores, Runtime
from worker.services.concurrency import CallLimits
from worker.services.directory import ServiceDirectory
from worker.services.remote_content import SenderClient
from worker.services.templates import TemplateCache
from worker.services.token_cache import UnknownTokens

RUNTIME = web.AppKey("runtime", Runtime)
DIRECTORY = web.AppKey("directory", ServiceDirectory)
STORES = web.AppKey("stores", IngressStores)
SENDERS = web.AppKey("senders", SenderClient)
REMOTE_LIMITS = web.AppKey("remote_limits", CallLimits)
UNKNOWN_TOKENS = web.AppKey("unknown_tokens", UnknownTokens)
TEMPLATES = web.AppKey("templates", TemplateCache)
