"""Typed application keys shared by the ingress handlers."""

from __future__ import annotations

from aiohttp import web

from worker.bootstrap import IngressStores, Runtime
from worker.services.directory import ServiceDirectory
from worker.services.remote_content import SenderClient
from worker.services.templates import TemplateCache

RUNTIME = web.AppKey("runtime", Runtime)
DIRECTORY = web.AppKey("directory", ServiceDirectory)
STORES = web.AppKey("stores", IngressStores)
SENDERS = web.AppKey("senders", SenderClient)
TEMPLATES = web.AppKey("templates", TemplateCache)
