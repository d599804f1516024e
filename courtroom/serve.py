"""`courtroom serve`: the composition root that starts the aiohttp app of `signaling`.

The import is local: the hearing domain does not depend on the server, only this command does.
"""

from __future__ import annotations

import asyncio
import logging

from .config import Config

log = logging.getLogger("courtroom")

DEMO_HEARING = {
    "case_number": "(2026)京0491民初1234号",
    "title": "张三诉李四买卖合同纠纷 Zhang San v. Li Si (sale contract)",
    "procedure": "simple",
    "public": True,
}
DEMO_PEOPLE = [
    {"role": "judge", "name": "王法官"},
    {"role": "clerk", "name": "赵书记员"},
    {"role": "plaintiff", "name": "张三"},
    {"role": "defendant", "name": "李四"},
    {"role": "witness", "name": "陈五"},
]


def serve(config: Config, demo: bool = False) -> int:
    from aiohttp import web

    from asr.models import ModelError
    from signaling.app import create_app

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
              "  pass --asr-model PATH to a model folder, or --asr-engine off", flush=True)
        return 2
    if demo:
        from signaling.pod import POD

        from .admin import create_demo

        async def make_demo(app: web.Application) -> None:
            result = await create_demo(app[POD].court, DEMO_HEARING, DEMO_PEOPLE)
            print(f"\nDemo hearing {result['case_number']} ({result['id']}). Join links:", flush=True)
            for p in result["participants"]:
                print(f"  {p['role']:<10} {p['name']:<6} {p['join_url']}", flush=True)
            print(f"  public     gallery {config.base_url}/gallery\n", flush=True)

        app.on_startup.append(make_demo)
    log.info("courtroom pod on http://%s:%d, data in %s", config.host, config.port, config.data_dir)
    from signaling.accesslog import AccessLogger

    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        handle_signals=True,
        access_log_class=AccessLogger,
        loop=asyncio.new_event_loop(),
    )
    return 0
