"""How long ``analyze`` takes on a 60 s 25 fps clip, against the Whisper encoder passes alone,
and what every system's rule adds to it.

    python bench/bench_analyze.py [--runs 5] [--seconds 60]

The encoder is the part that cannot get faster without changing the features, so the
target is analyze / encoder <= 2.0. The rules' cost is the analysis with every rule against
the same analysis with only the first nine rules museviz had (and their checks): at most
10 % more. All are measured in the same process, interleaved, with the model already loaded
(the app and the audit load it once); medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch
import whisper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, talking_clip, timed, whisper_checkpoint  # noqa: E402
from museviz import analysis, checks, rules  # noqa: E402
from museviz.analysis import Options, analyze  # noqa: E402
from museviz.media import read_media  # noqa: E402
from museviz.report import write_report  # noqa: E402
from museviz.whisper50 import SEGMENT_MEL_FRAMES, load_encoder, log_mel  # noqa: E402

TARGET_RATIO = 2.0
TARGET_RULES_SHARE = 0.10  # every rule may add at most this to the analysis
FIRST_RULES = ["musetalk-v1", "latentsync", "musetalk-v1.5", "wav2lip", "exact", "exact-mel80", "musetalk-v1.5-train", "wav2lip-train", "syncnet-train"]


@contextmanager
def first_rules_only():
    """museviz's analysis with only the first nine rules and their checks (the counterfactual
    the newer systems' cost is measured against)."""
    with mock.patch.object(analysis, "schedule_all", lambda t: rules.schedule_all(t, FIRST_RULES)), \
            mock.patch.object(checks, "system_checks", lambda *_args, **_kw: []):
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="museviz-bench-") as tmp:
        work = Path(tmp)
        # Written audio a little short of the video: AAC pads its last frame, and 60.00 s must
        # decode to at most 960000 samples to stay two 30 s segments.
        clip = talking_clip(work / "clip.mp4", args.seconds, audio_s=args.seconds - 0.05)
        options = Options(whisper_checkpoint=whisper_checkpoint(work))
        model = load_encoder(options.whisper_checkpoint).model
        mel = log_mel(read_media(clip).audio_16k)
        segments = [mel[:, s : s + SEGMENT_MEL_FRAMES] for s in range(0, mel.shape[1], SEGMENT_MEL_FRAMES)]
        batch = torch.stack([whisper.pad_or_trim(s, SEGMENT_MEL_FRAMES) for s in segments])

        def encoder_passes():
            with torch.inference_mode():
                model.encoder(batch)

        engine = dataclasses.replace(options, sync=False)

        def whole_analyze(opts):
            write_report(analyze(clip, opts), work / "out")

        def first_rules_analyze():
            with first_rules_only():
                whole_analyze(engine)

        whole_analyze(options)
        encoder_passes()
        first_rules_analyze()
        analyze_s, encoder_s, with_sync_s, first_s = [], [], [], []
        for _ in range(args.runs):
            analyze_s.append(timed(lambda: whole_analyze(engine)))
            encoder_s.append(timed(encoder_passes))
            first_s.append(timed(first_rules_analyze))
            with_sync_s.append(timed(lambda: whole_analyze(options)))

    ratio = median(analyze_s) / median(encoder_s)
    runs = lambda ts: ", ".join(f"{t:.2f}" for t in ts)
    print(f"clip: {args.seconds:.0f} s, 25 fps, 640x360, {len(segments)} encoder segments in one batch; {args.runs} runs, medians")
    print(f"analyze (probe, mel80, whisper50, rules, checks, report.json + features.npz): {median(analyze_s):.3f} s  (runs: {runs(analyze_s)})")
    print(f"encoder passes alone:                                                       {median(encoder_s):.3f} s  (runs: {runs(encoder_s)})")
    print(f"ratio analyze / encoder: {ratio:.2f}  (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    print(f"the same with the sync estimate (decodes every frame): {median(with_sync_s):.3f} s, {median(with_sync_s) / median(encoder_s):.2f} x the encoder")
    share = median(analyze_s) / median(first_s) - 1
    print(f"every rule ({len(rules.RULES)}) against the first {len(FIRST_RULES)}: {median(analyze_s):.3f} s / {median(first_s):.3f} s (runs: {runs(first_s)}): "
          f"the rules add {share * 100:+.1f} % (target <= {TARGET_RULES_SHARE * 100:.0f} %: {'met' if share <= TARGET_RULES_SHARE else 'NOT met'})")


if __name__ == "__main__":
    main()
