"""Recording: the archive file, the delayed public livestream (HLS), captions, the replay.

Muxing only (PyAV): the picture arrives encoded once by the media room and is copied, never
re-encoded; the audio mix is encoded to AAC here. Nothing here knows HTTP or asyncio: the
writers are synchronous and run on a :class:`Pump` thread each. See docs/recording.md.
"""

from .archive import ArchiveWriter, RecordFile, next_part_path, read_start_hearing_time
from .captions import Cue, to_srt, to_webvtt, write_captions
from .chapters import Chapter, build_chapters, write_chapters
from .delay import DelayLine, Pump
from .diskspace import DiskSpaceError, check_free_space
from .hls import HlsSegment, HlsWriter
from .replay import Replay, TimeMap, build_replay
from .slate import Slate

__all__ = [
    "ArchiveWriter",
    "Chapter",
    "Cue",
    "DelayLine",
    "DiskSpaceError",
    "HlsSegment",
    "HlsWriter",
    "Pump",
    "RecordFile",
    "Replay",
    "Slate",
    "TimeMap",
    "build_chapters",
    "build_replay",
    "check_free_space",
    "next_part_path",
    "read_start_hearing_time",
    "to_srt",
    "to_webvtt",
    "write_captions",
    "write_chapters",
]
