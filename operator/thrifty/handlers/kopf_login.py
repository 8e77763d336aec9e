"""kopf's connection to the API server, with a bounded pool.

kopf logs in through the kubernetes client's configuration (kubeconfig or the pod's service
account), then opens a connection per concurrent request without limit. When thousands of new
policies are first handled at once, each gets its finalizer and kopf's annotations in its own
request: at 3,000 policies the operator held hundreds of TLS connections, with two read buffers each
(about 100 MB). ``THRIFTY_API_CONNECTIONS`` (64) bounds them; each watch stream holds one for as long
as it runs, and there are about fifteen.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import kopf

from thrifty.settings import API_CONNECTIONS

__all__ = ["login_with_bounded_pool"]


@kopf.on.login()
async def login_with_bounded_pool(
    *, settings: kopf.OperatorSettings, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any
) -> kopf.AiohttpSession | None:
    info = kopf.login_via_client(settings=settings, logger=logger)
    if info is None:
        return None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=API_CONNECTIONS, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )
