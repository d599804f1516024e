"""The `courtroom` command: run the pod and manage its hearings from a shell."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from . import ledger_cli
from .config import Config, IceServer, court_tz, load_file
from .turn import check_url

DEFAULT_DATA = os.environ.get("COURTROOM_DATA", "./data")


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=DEFAULT_DATA, metavar="DIR",
                        help=f"the pod's data folder: store, recordings, evidence, keys (default {DEFAULT_DATA})")
    parser.add_argument("--config", metavar="FILE", help="a TOML file of settings (see README)")
    parser.add_argument("--database", default=os.environ.get("COURTROOM_DATABASE"), metavar="URL",
                        help="a multi-pod court's PostgreSQL (postgresql://...; default: the embedded SQLite)")
    parser.add_argument("--object-store", default=os.environ.get("COURTROOM_OBJECT_STORE"), metavar="URL",
                        help="a multi-pod court's bucket (s3://bucket?endpoint=...; default: local files)")


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 1 to 65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courtroom",
        description="A virtual courtroom: court hearings over WebRTC with a live transcript, "
        "recording, a public livestream and a tamper-evident ledger.",
        epilog="Start with `courtroom serve --demo` and open the printed links in a browser.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hearing server")
    _add_data(serve)
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=None, help="port to listen on (default 8080)")
    serve.add_argument("--public-url", default=None, help="base URL of join links, e.g. https://court.example.org")
    serve.add_argument("--ice-server", action="append", default=None, metavar="URL[,USER,CREDENTIAL]",
                       help="a STUN/TURN server for the peers (repeatable); none by default")
    serve.add_argument("--ice-address", action="append", default=None, metavar="IP",
                       help="offer ICE host candidates only on this address (repeatable), e.g. 127.0.0.1")
    serve.add_argument("--turn-secret", default=None, metavar="SECRET",
                       help="coturn's static-auth-secret (use-auth-secret): browsers get short-lived TURN "
                       "credentials; or set COURTROOM_TURN_SECRET")
    serve.add_argument("--turn-url", action="append", default=None, metavar="URL",
                       help="a TURN URL handed to browsers with those credentials (repeatable), e.g. "
                       "turn:turn.example.org:3478?transport=udp, turns:turn.example.org:443?transport=tcp")
    serve.add_argument("--tls-cert", default=None, metavar="FILE",
                       help="serve HTTPS with this PEM certificate (chain); browsers need HTTPS for cameras")
    serve.add_argument("--tls-key", default=None, metavar="FILE", help="the certificate's PEM private key")
    serve.add_argument("--public-ip", default=None, help="the address announced to browsers when behind 1:1 NAT")
    serve.add_argument("--video-size", default=None, metavar="WxH", help="the courtroom picture (default 1280x720)")
    serve.add_argument("--fps", type=int, default=None, help="frames per second of the picture (default 15)")
    serve.add_argument("--asr-engine", choices=["auto", "vosk", "whisper", "off"], default=None,
                       help="the live caption engine (default auto: Vosk when --asr-model is a Vosk folder "
                       "for the court's language, else Whisper)")
    serve.add_argument("--asr-model", default=None, metavar="PATH",
                       help="the live engine's model folder: a Vosk model (e.g. vosk-model-cn) or a CTranslate2 Whisper folder")
    serve.add_argument("--asr-language", default=None, metavar="CODE",
                       help="the recognizers' language when not the court's (--language), e.g. ko for the packaged Vosk model")
    serve.add_argument("--record-engine", choices=["whisper", "off"], default=None,
                       help="reads each whole turn again for the record (default whisper)")
    serve.add_argument("--record-model", default=None, metavar="PATH",
                       help="the record engine's CTranslate2 Whisper folder (default: multilingual base)")
    serve.add_argument("--broadcast-delay", type=float, default=None, help="seconds of public broadcast delay (default 30)")
    serve.add_argument("--time-zone", default=None, metavar="ZONE",
                       help="the court's time zone for the picture, pages and exports (default Asia/Shanghai)")
    serve.add_argument("--record-flush-seconds", type=float, default=None,
                       help="at close, how long the record waits for the last transcribed speech (default 30)")
    serve.add_argument("--drop-note-seconds", type=float, default=None,
                       help="a participant's connection lost longer than this is noted in the record (default 60)")
    serve.add_argument("--pod-id", default=None, help="this pod's name in a multi-pod court (default host:port)")
    serve.add_argument("--demo", action="store_true", help="create a demo hearing and print its join links")
    serve.add_argument("--language", choices=["zh", "en"], default=None,
                       help="the court's language: picture labels, slates, chapters, events, pages, and the "
                       "speech engines and their prompt (default zh)")
    serve.add_argument("--log-level", default="INFO")

    hearing = sub.add_parser("hearing", help="create, list and export hearings")
    hsub = hearing.add_subparsers(dest="hearing_command", required=True, metavar="ACTION")
    create = hsub.add_parser("create", help="schedule a hearing and invite its participants (prints JSON)")
    _add_data(create)
    create.add_argument("--case-number", required=True, help="e.g. (2026)京0491民初1234号")
    create.add_argument("--title", default="")
    create.add_argument("--procedure", default="simple",
                        choices=["small_claims", "simple", "ordinary", "evidence_exchange", "mediation"])
    create.add_argument("--public", action="store_true", help="a public hearing (may be broadcast)")
    create.add_argument("--participant", action="append", default=[], metavar="ROLE:NAME[:SIDE]",
                        help="invite a participant, e.g. judge:王法官 or agent:李律师:plaintiff (repeatable)")
    tls = sub.add_parser("tls", help="HTTPS certificates")
    tsub = tls.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    selfsigned = tsub.add_parser("self-signed", help="make DIR/tls/cert.pem and key.pem once for these hosts; "
                                 "prints the serve flags that use them")
    _add_data(selfsigned)
    selfsigned.add_argument("--host", action="append", required=True,
                            help="a name or address browsers use (repeatable); 0.0.0.0 means every address of this machine")
    selfsigned.add_argument("--port", type=_port, default=8080, help="the port (for --public-url)")
    lst = hsub.add_parser("list", help="list hearings with their participants and join links (JSON)")
    _add_data(lst)
    ledger_cli.add_parsers(sub, hsub)
    return parser


def config_from(args: argparse.Namespace) -> Config:
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values.update(load_file(Path(args.config)))
    values["data_dir"] = Path(args.data)
    simple = {
        "host": "host", "port": "port", "public_url": "public_url", "public_ip": "public_ip",
        "fps": "fps", "asr_engine": "asr_engine", "asr_language": "asr_language",
        "broadcast_delay": "broadcast_delay", "time_zone": "time_zone",
        "record_flush_seconds": "record_flush_seconds", "drop_note_seconds": "drop_note_seconds",
        "database": "database_url",
        "object_store": "object_store_url", "pod_id": "pod_id",
        "language": "language", "record_engine": "record_engine",
    }
    for attr, key in simple.items():
        value = getattr(args, attr, None)
        if value is not None:
            values[key] = value
    if getattr(args, "asr_model", None):
        values["asr_model"] = Path(args.asr_model)
    if getattr(args, "record_model", None):
        values["record_model"] = Path(args.record_model)
    if getattr(args, "ice_server", None):
        values["ice_servers"] = tuple(IceServer.parse(s) for s in args.ice_server)
    if getattr(args, "ice_address", None):
        values["ice_addresses"] = tuple(args.ice_address)
    if getattr(args, "turn_url", None):
        values["turn_urls"] = tuple(check_url(u) for u in args.turn_url)
    secret = getattr(args, "turn_secret", None) or os.environ.get("COURTROOM_TURN_SECRET")
    if secret:
        values["turn_secret"] = secret
    if values.get("turn_urls") and not values.get("turn_secret"):
        raise ValueError("--turn-url needs the shared secret: --turn-secret or COURTROOM_TURN_SECRET")
    if getattr(args, "tls_cert", None) or getattr(args, "tls_key", None):
        if not (args.tls_cert and args.tls_key):
            raise ValueError("HTTPS needs both --tls-cert and --tls-key")
        values["tls_cert"], values["tls_key"] = Path(args.tls_cert), Path(args.tls_key)
    if getattr(args, "video_size", None):
        w, _, h = args.video_size.lower().partition("x")
        values["video_width"], values["video_height"] = int(w), int(h)
    if "language" in values:
        from .language import check_language

        check_language(str(values["language"]))
    known = {f.name for f in fields(Config)}
    config = Config(**{k: v for k, v in values.items() if k in known})
    court_tz(config.time_zone)  # an unknown time zone fails here, with a clear message
    return config


def _main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from(args)
    except (ValueError, OSError) as e:
        parser.error(str(e))
    if args.command == "serve":
        from .serve import serve

        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("aioice").setLevel(logging.WARNING)
        return serve(config, demo=args.demo)
    if args.command == "tls":
        from .tls_cli import self_signed_command

        return self_signed_command(config, args.host, args.port)
    handled = ledger_cli.run(args)
    if handled is not None:
        return handled
    if args.command == "hearing":
        from . import admin
        from .court import InvalidInput
        from .procedure import ActionRefused

        try:
            if args.hearing_command == "create":
                result = admin.create(config, args)
            else:
                result = admin.list_all(config)
        except (InvalidInput, ActionRefused) as e:
            parser.error(e.message)
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    parser.error("unknown command")
    return 2


def main(argv: list[str] | None = None) -> int:
    """The `courtroom` command. A reader that stops early (`courtroom verify F | head`) ends
    the output quietly, without a BrokenPipeError traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python would try to flush stdout again at exit and fail the same way.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
