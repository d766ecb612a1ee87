"""The sync estimate on real talking heads: offsets, confidences, the natural lead, and chance.

    python bench/sync_real.py [--real DIR]

For each real clip (``$MUSEVIZ_REAL_MEDIA`` or ../shared/media/real beside the checkout):
the estimate in sync and with the audio moved by -160, -120, -80, +80, +160 and +240 ms
(the copies written with ``museviz.remux.shift_audio``, as a user's shifted file would be),
where the correlation peaks before the natural lead is taken out (how ``NATURAL_LEAD_S``
was measured), and the confidence of the face against unrelated speech: each other real
clip's voice at three circular offsets and eight sentences of espeak-ng speech in four
voices. It prints the tables quoted in docs/report.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from museviz.grid import SAMPLE_RATE  # noqa: E402
from museviz.media import read_media  # noqa: E402
from museviz.remux import shift_audio  # noqa: E402
from museviz.sync import KEEP_MIN_CONFIDENCE, NATURAL_LEAD_S, correlate, measure_mouth  # noqa: E402
from museviz.synth import speech_16k  # noqa: E402

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "media" / "real"
SHIFTS_MS = (0, -160, -120, -80, 80, 160, 240)
SENTENCES = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls. The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us. A large size in stockings is hard to sell.",
    "The boy was there when the sun rose. A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring. Kick the ball straight and follow through.",
    "Help the woman get back to her feet. A pot of tea helps to pass the evening.",
)
VOICES = ("en-us", "en", "en-us+f3", "en+m3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=Path(os.environ.get("MUSEVIZ_REAL_MEDIA", DEFAULT_REAL)))
    args = parser.parse_args()
    clips = sorted(p for p in args.real.glob("*.mp4"))
    if not clips:
        sys.exit(f"no real clips in {args.real}")
    speeches = [speech_16k(text, voice=VOICES[k % len(VOICES)]) for k, text in enumerate(SENTENCES)]

    print(f"offset in frames (want) and confidence, audio moved by {', '.join(f'{s:+d}' for s in SHIFTS_MS)} ms; reliable at {KEEP_MIN_CONFIDENCE}")
    raw_ms, in_sync, unrelated = {}, [], []
    with tempfile.TemporaryDirectory(prefix="museviz-real-") as tmp:
        for clip in clips:
            media = read_media(clip)
            fps = media.video.fps
            cells = []
            for shift_ms in SHIFTS_MS:
                path = clip if shift_ms == 0 else shift_audio(clip, Path(tmp) / f"{shift_ms}_{clip.name}", shift_ms / 1000)
                shifted = read_media(path)
                track = measure_mouth(shifted)
                result = correlate(track, shifted.audio_16k, shifted.video.frame_times_s, fps)
                want = round(-shift_ms * fps / 1000)
                cells.append(f"{result.offset_frames:+d} ({want:+d}) {result.confidence:.2f}")
                if shift_ms == 0:
                    raw_ms[clip.name] = result.raw_lag_ms
                    in_sync.append(result.quality.peak_z * 2 - (result.quality.runner_up_z or 0))
            print(f"  {clip.name:38s} " + " | ".join(cells))
            track = measure_mouth(media)
            others = [read_media(c).audio_16k for c in clips if c != clip]
            voices = [np.roll(np.resize(o, len(media.audio_16k)), round(k * SAMPLE_RATE)) for o in others for k in (0, 2, 4)]
            voices += [np.resize(s, len(media.audio_16k)) for s in speeches]
            for voice in voices:
                result = correlate(track, voice, media.video.frame_times_s, fps)
                unrelated.append((clip.name, result.confidence, result.quality.peak_z * 2 - (result.quality.runner_up_z or 0)))

    print(f"\nwhere the correlation peaks in sync (the mouth leads by minus this); NATURAL_LEAD_S = {NATURAL_LEAD_S * 1000:.0f} ms")
    for name, ms in raw_ms.items():
        print(f"  {name:38s} {ms:+.0f} ms")
    print(f"  mean {np.mean(list(raw_ms.values())):+.0f} ms, median {np.median(list(raw_ms.values())):+.0f} ms")
    scores = np.array([u[2] for u in unrelated])
    confidences = np.array([u[1] for u in unrelated])
    print(f"\nscore 2 z - z_runner_up: in sync {', '.join(f'{s:.1f}' for s in in_sync)}")
    print(f"unrelated speech, {len(unrelated)} pairings: score max {scores.max():.1f}, 90th percentile {np.percentile(scores, 90):.1f}, "
          f"median {np.median(scores):.1f}; confidence max {confidences.max():.2f}, share above 0.3: {np.mean(confidences > 0.3):.0%}")


if __name__ == "__main__":
    main()
