"""Write museviz's example clips into assets/: 6 s of the astronaut saying two sentences, 320 x 240.

Each clip's timing is known exactly, so museviz's report on it can be checked by eye (the
mouth opens the natural lead, ``museviz.sync.NATURAL_LEAD_S``, before its sound, as real mouths do):

- ``sync_25fps.mp4``: in sync at 25 fps. The reference case: every rule in ALIGNMENT.md
  should put each frame's audio window on the sound its mouth makes.
- ``sync_29.97fps.mp4``: in sync at 30000/1001 fps. MuseTalk v1.5 reads ``int(fps)`` = 29 and
  drifts ahead of the picture (1.94 s a minute, about 190 ms by the end of these 6 s).
- ``audio_late_120ms.mp4``: 25 fps, the sound comes 120 ms (3 frames) after the mouth that
  makes it. SyncNet's convention reports it as offset -3 (audio 120 ms late); the fix is to
  advance the audio by 120 ms.
- ``audio_short.mp4``: 25 fps, the audio ends 0.5 s before the video. Training windows near
  the end come out short and are dropped; duration checks flag the mismatch.
- ``vfr.mp4``: variable frame rate, stretches at 25 and 15 fps. No single fps describes
  the frame times, so every fps-based rule is wrong somewhere in the clip.

Deterministic: re-running writes the same bytes. Run ``python scripts/make_examples.py``.
"""

from fractions import Fraction
from pathlib import Path

from museviz.synth import ClipSpec, speech_16k, vfr_times, write_clip

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SCRIPT = "Watch her lips. They open on the loud sounds, and close when the voice goes quiet."
DURATION_S = 6.0
SIZE = (320, 240)  # width, height px
LATE_S = 0.12
SHORT_BY_S = 0.5


def example_specs(speech) -> dict[str, ClipSpec]:
    """The examples by file name, all driven by the same (N,) 16 kHz ``speech``."""
    clip = dict(duration_s=DURATION_S, size=SIZE, audio=speech)
    return {
        "sync_25fps.mp4": ClipSpec(fps=Fraction(25), **clip),
        "sync_29.97fps.mp4": ClipSpec(fps=Fraction(30000, 1001), **clip),
        "audio_late_120ms.mp4": ClipSpec(fps=Fraction(25), audio_delay_s=LATE_S, **clip),
        "audio_short.mp4": ClipSpec(fps=Fraction(25), audio_duration_s=DURATION_S - SHORT_BY_S, **clip),
        "vfr.mp4": ClipSpec(frame_times_s=vfr_times(DURATION_S), **clip),
    }


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    speech = speech_16k(SCRIPT)
    for name, spec in example_specs(speech).items():
        path = write_clip(ASSETS / name, spec)
        print(f"{path.relative_to(ASSETS.parent)}  {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
