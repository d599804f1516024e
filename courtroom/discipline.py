"""The court discipline (庭审纪律) shown at join, and the witness's undertaking (保证书).

Each is acknowledged by the participant before entering — an event (`participant.discipline`,
`participant.undertaking`) and a line of the record. The discipline text is the court's own
(`discipline_text` in the configuration); this is the default, after the Rules of Court and the
online litigation rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .events import Event
from .participants import Participant
from .record import Note, _one_line, role_title
from .roles import Role

DEFAULT_DISCIPLINE = """庭审纪律
一、诉讼参与人应当按时参加在线庭审，选择安静、光线适宜的场所，不得在露天场所、行驶中的交通工具内等场所参加庭审。
二、应当保证视频画面中仅有本人，着装得体，未经审判长许可不得中途退出庭审。
三、未经法庭许可，不得对庭审活动进行录音、录像、拍照，不得通过网络传播庭审活动。
四、发言应当经审判长许可，不得鼓掌、喧哗、吸烟、进食，不得实施其他妨害庭审秩序的行为。
五、无正当理由拒不到庭或者未经许可中途退庭的，原告可以按撤诉处理，被告可以缺席判决。
六、违反法庭纪律的，审判长可以予以训诫，责令退出法庭，或者依法予以罚款、拘留。"""

UNDERTAKING = ("证人保证书\n"
               "本人保证向法庭如实作证，无任何隐瞒、歪曲、增减，如有违反，"
               "愿意接受罚款、拘留直至被依法追究刑事责任等法律制裁。")

KINDS = {"discipline": "participant.discipline", "undertaking": "participant.undertaking"}


def discipline_text(configured: str) -> str:
    return configured.strip() or DEFAULT_DISCIPLINE


def must_acknowledge(p: Participant) -> list[str]:
    """What a participant acknowledges before entering: the court's officers nothing; a witness
    the discipline and the undertaking; everyone else the discipline."""
    if p.role in (Role.JUDGE, Role.CLERK, Role.MEDIATOR):
        return []
    return ["discipline", "undertaking"] if p.role is Role.WITNESS else ["discipline"]


def acknowledged(participant_id: str, events: Iterable[Event]) -> list[str]:
    kinds = {v: k for k, v in KINDS.items()}
    return sorted({kinds[e.kind] for e in events if e.kind in kinds and e.subject == participant_id})


def discipline_notes(participants: Sequence[Participant], events: Iterable[Event],
                     title_of: Callable[[Participant], str] | None = None) -> list[Note]:
    """The record's lines: who acknowledged the discipline, which witness signed the undertaking."""
    by_id = {p.id: p for p in participants}
    notes = []
    for e in events:
        p = by_id.get(e.subject or "")
        if p is None or e.kind not in KINDS.values():
            continue
        who = f"{title_of(p) if title_of else role_title(p.role, p.side)}{_one_line(p.name)}"
        text = f"（{who}已阅读庭审纪律并承诺遵守）" if e.kind == KINDS["discipline"] else f"（{who}签署保证书）"
        notes.append(Note(e.hearing_time, text, e.kind))
    return notes
