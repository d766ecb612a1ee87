"""The sync estimate on real talking heads: two HDTF face crops and a wide shot, in sync and
with the audio shifted by known amounts, and each face with another's speech.

The clips live outside the repository (research data, see ../shared/media/real/SOURCE.md):
``$MUSEVIZ_REAL_MEDIA`` or ../shared/media/real beside the checkout; without them these
tests are skipped.
"""

import os
from pathlib import Path

import av
import pytest

from museviz.media import read_media
from museviz.remux import shift_audio
from museviz.sync import KEEP_MIN_CONFIDENCE, estimate_sync

REAL = Path(os.environ.get("MUSEVIZ_REAL_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media" / "real"))
CLIPS = {"WDA_AlexandriaOcasioCortez_000.mp4": 25, "WDA_KatieHill_000.mp4": 25, "vrt_face_4.mp4": 30}  # name: fps
SHIFTS_MS = (0, -120, 80, 160)  # audio moved later by this much (the clips themselves are in sync)
TOLERANCE_FRAMES = 2
UNRELATED_MAX = 0.3

pytestmark = pytest.mark.skipif(not all((REAL / name).is_file() for name in CLIPS), reason=f"the real clips are not in {REAL}")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """``real(name, shift_ms) -> SyncResult``: the clip with its audio moved, estimated once."""
    folder = tmp_path_factory.mktemp("real")
    done = {}

    def measure(name: str, shift_ms: int):
        if (name, shift_ms) not in done:
            path = REAL / name if shift_ms == 0 else shift_audio(REAL / name, folder / f"{shift_ms}_{name}", shift_ms / 1000)
            done[name, shift_ms] = estimate_sync(read_media(path))
        return done[name, shift_ms]

    return measure


def with_audio_of(video_path: Path, audio_path: Path, out_path: Path) -> Path:
    """A copy of ``video_path``'s pictures with ``audio_path``'s sound (packets copied)."""
    with av.open(str(video_path)) as pictures, av.open(str(audio_path)) as sound, av.open(str(out_path), "w", format="mp4") as out:
        streams = [(pictures, pictures.streams.video[0]), (sound, sound.streams.audio[0])]
        targets = [out.add_stream_from_template(stream) for _, stream in streams]
        for (container, stream), target in zip(streams, targets):
            for packet in container.demux(stream):
                if packet.dts is not None:
                    packet.stream = target
                    out.mux(packet)
    return out_path


@pytest.mark.parametrize("shift_ms", SHIFTS_MS)
@pytest.mark.parametrize("name", CLIPS)
def test_real_clip_offset_is_within_two_frames_of_the_shift_and_confident(real, name, shift_ms):
    result = real(name, shift_ms)
    truth = round(-shift_ms * CLIPS[name] / 1000)
    assert abs(result.offset_frames - truth) <= TOLERANCE_FRAMES, f"{result.words} (want {truth:+d})"
    assert result.confidence >= KEEP_MIN_CONFIDENCE, result.notes


@pytest.mark.parametrize("name", CLIPS)
def test_a_shift_moves_the_measured_offset_by_the_shift(real, name):
    """Not the side lobe of a syllable: each copy's offset moves by its shift, to a frame."""
    fps = CLIPS[name]
    base_ms = real(name, 0).offset_ms
    for shift_ms in SHIFTS_MS[1:]:
        moved_ms = real(name, shift_ms).offset_ms - base_ms
        assert abs(moved_ms + shift_ms) <= 1000 / fps, (shift_ms, moved_ms)


@pytest.mark.parametrize("name", CLIPS)
def test_real_face_with_another_clips_speech_scores_low(tmp_path, name):
    other = next(n for n in CLIPS if n != name)
    result = estimate_sync(read_media(with_audio_of(REAL / name, REAL / other, tmp_path / "swapped.mp4")))
    assert result.confidence <= UNRELATED_MAX and not result.reliable
    assert result.words.startswith("not measured reliably") and result.fix is None


@pytest.mark.parametrize("name", CLIPS)
def test_real_clip_report_says_what_the_measurement_stood_on(real, name):
    quality = real(name, 0).to_dict()["quality"]
    assert quality["face_fraction"] > 0.95 and quality["face_size_px"] > 150
    assert quality["speech_s"] > 4 and 0.5 < quality["speech_fraction"] <= 1
    assert quality["peak_z"] > quality["runner_up_z"] + 1.5
