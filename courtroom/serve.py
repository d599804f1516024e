"""`courtroom serve`: the composition root that starts the aiohttp app of `signaling`.

The import is local: the hearing domain does not depend on the server, only this command does.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from .config import Config

log = logging.getLogger("courtroom")

# A plausible case of an internet court: an online purchase that went wrong.
DEMO_HEARING = {
    "case_number": "(2026)京0491民初1234号",
    "title": "张三诉李四网络购物合同纠纷",
    "procedure": "simple",
    "public": True,
    "court": "北京互联网法院",
}
DEMO_PEOPLE: list[dict[str, Any]] = [
    {"role": "judge", "name": "王建国"},
    {"role": "clerk", "name": "赵敏"},
    # Registered identities: the parties check in and are verified before admission (docs/identity.md).
    {"role": "plaintiff", "name": "张三", "identity": {"id_type": "resident_id", "id_last4": "0013"}},
    {"role": "defendant", "name": "李四", "identity": {"id_type": "resident_id", "id_last4": "0024"}},
    {"role": "witness", "name": "陈五"},
]


def key_location(config: Config) -> str:
    """Where the clerk's API key is: said on the clerk's desk and by `make run`."""
    import os

    if os.environ.get("COURTROOM_ADMIN_KEY"):
        return "the environment variable COURTROOM_ADMIN_KEY"
    return str((config.data_dir / "admin.key").resolve())


def serve(config: Config, demo: bool = False) -> int:
    from aiohttp import web

    from asr.models import ModelError
    from signaling.app import create_app

    ssl_context = None
    if config.tls_cert is not None and config.tls_key is not None:
        from .tls import TlsError, server_context

        try:
            ssl_context = server_context(config.tls_cert, config.tls_key)
        except TlsError as exc:
            log.error("%s", exc)
            print(f"courtroom: cannot serve HTTPS: {exc}", file=sys.stderr, flush=True)
            return 2
    from .blobs import BlobError
    from .postgres import DatabaseUnavailable

    try:
        app = create_app(config)
    except (DatabaseUnavailable, BlobError) as exc:
        log.error("%s", exc)
        print(f"courtroom: {exc}", flush=True)
        return 2
    except ModelError as exc:
        log.error("speech recognition cannot start: %s", exc)
        print(f"courtroom: speech recognition cannot start: {exc}\n"
              f"  the court's language is {config.language!r} (--language); pass --asr-model PATH to a "
              "model folder of that language, or --asr-engine off", flush=True)
        return 2
    if demo:
        from signaling.pod import POD

        from .admin import create_demo

        async def make_demo(app: web.Application) -> None:
            result = await create_demo(app[POD].court, DEMO_HEARING, DEMO_PEOPLE)
            print(f"\nDemo hearing {result['case_number']} ({result['id']}). Join links:", flush=True)
            for p in result["participants"]:
                print(f"  {p['role']:<10} {p['name']:<6} {p['join_url']}", flush=True)
            from .docket import issue_link

            docket = await issue_link(app[POD].court, DEMO_PEOPLE[0]["name"])
            print(f"  judge's docket     {config.base_url}/docket#token={docket}", flush=True)
            print(f"  public     gallery {config.base_url}/gallery", flush=True)
            print(f"  clerk's desk {config.base_url}/clerk (key: {key_location(config)})\n", flush=True)

        app.on_startup.append(make_demo)
    scheme = "https" if ssl_context else "http"
    log.info("courtroom pod on %s://%s:%d, data in %s", scheme, config.host, config.port, config.data_dir)
    from signaling.accesslog import AccessLogger

    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        handle_signals=True,
        access_log_class=AccessLogger,
        ssl_context=ssl_context,
        keepalive_timeout=config.idle_timeout,  # also bounds a connection that never finishes its headers
        loop=asyncio.new_event_loop(),
    )
    return 0
