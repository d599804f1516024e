"""The live stream's WebVTT subtitles rendition, file by file: the master playlist ties the
picture to the captions, each video segment gets its WebVTT segment on the hearing clock, a
cue goes into the one segment it starts in, and a line that comes late rewrites its segment."""

from __future__ import annotations

from pathlib import Path

from recorder.hls import HlsSegment
from recorder.hls_subtitles import (
    MASTER,
    SUBTITLES,
    PublicCaption,
    PublicCaptions,
    SubtitleRendition,
)


def test_rendition_files(tmp_path: Path) -> None:
    captions = PublicCaptions()
    captions.replace([PublicCaption(10.5, 13.0, "原告", "我方请求<赔偿> & 利息")])
    rendition = SubtitleRendition(tmp_path, captions, 1_000_000, 640, 360)
    master = (tmp_path / MASTER).read_text()
    assert '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"' in master and f'URI="{SUBTITLES}"' in master
    assert 'SUBTITLES="subs"' in master and master.rstrip().endswith("live.m3u8")

    segs = [HlsSegment("seg000005.ts", 5, 10.0, 12.0, True), HlsSegment("seg000006.ts", 6, 12.0, 14.0, True)]
    rendition.on_playlist(segs, 2, 5, 0, False)
    first = (tmp_path / "sub000005.vtt").read_text()
    assert first.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:10.000\n"), first
    assert "00:00:10.500 --> 00:00:13.000\n<v 原告>我方请求&lt;赔偿&gt; &amp; 利息" in first
    assert "-->" not in (tmp_path / "sub000006.vtt").read_text(), "a cue goes into one segment only"
    playlist = (tmp_path / SUBTITLES).read_text()
    assert "#EXT-X-MEDIA-SEQUENCE:5" in playlist and playlist.index("sub000005.vtt") < playlist.index("sub000006.vtt")

    # A line recognised after its segment was cut: the segment is written again.
    captions.replace([*captions.starting(0, 99), PublicCaption(12.4, 13.5, "被告", "不同意")])
    rendition.on_playlist(segs, 2, 5, 0, True)
    assert "<v 被告>不同意" in (tmp_path / "sub000006.vtt").read_text()
    assert (tmp_path / SUBTITLES).read_text().rstrip().endswith("#EXT-X-ENDLIST")
