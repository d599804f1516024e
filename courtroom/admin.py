"""Offline administration for the command line: the same Court, no server needed.

SQLite in WAL mode lets these run beside a live server on the same data folder.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from .auth import TokenSigner, read_or_create_secret
from .config import Config
from .court import Actor, Court
from .database import open_database


def open_court(config: Config) -> Court:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(config.data_dir, config.database_url)
    signer = TokenSigner(read_or_create_secret(config.data_dir / "secret.key"), config.token_ttl_seconds)
    return Court(config, db, signer)


def parse_participant(text: str) -> dict[str, Any]:
    role, _, rest = text.partition(":")
    name, _, side = rest.partition(":")
    body: dict[str, Any] = {"role": role, "name": name}
    if side:
        body["side"] = side
    return body


def check_people(people: list[dict[str, Any]]) -> None:
    """Refuse a bad participant before anything is written: no half-made hearing."""
    from .court import InvalidInput, clean_text
    from .roles import SIDES, Role

    for person in people:
        clean_text(person.get("name"), "name", 100)
        try:
            role = Role(str(person.get("role")))
        except ValueError:
            raise InvalidInput("invalid_role", f"unknown role {person.get('role')!r}") from None
        if role is Role.AGENT and person.get("side") not in SIDES:
            raise InvalidInput("invalid_field", "an agent needs a side: agent:NAME:plaintiff or agent:NAME:defendant")


async def create_demo(court: Court, body: dict[str, Any], people: list[dict[str, Any]]) -> dict[str, Any]:
    check_people(people)
    clerk = Actor.clerk()
    hearing = await court.create_hearing(body, clerk)
    out = court.describe(hearing, [])
    out["participants"] = []
    for person in people:
        participant, token = await court.add_participant(hearing.id, person, clerk)
        entry = participant.public_dict()
        entry.update(token=token, join_url=court.join_url(participant, token))
        out["participants"].append(entry)
    return out


def create(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    court = open_court(config)
    body = {"case_number": args.case_number, "title": args.title, "procedure": args.procedure, "public": args.public}
    try:
        return asyncio.run(create_demo(court, body, [parse_participant(p) for p in args.participant]))
    finally:
        court.db.close()


def list_all(config: Config) -> dict[str, Any]:
    court = open_court(config)

    async def run() -> dict[str, Any]:
        result = []
        for hearing in await court.list_hearings():
            data = court.describe(hearing, [])
            data["participants"] = []
            for p in await court.participants(hearing.id):
                entry = p.public_dict()
                if p.token_nonce:
                    token = court.token_for(p)
                    entry.update(token=token, join_url=court.join_url(p, token))
                data["participants"].append(entry)
            result.append(data)
        return {"hearings": result}

    try:
        return asyncio.run(run())
    finally:
        court.db.close()
