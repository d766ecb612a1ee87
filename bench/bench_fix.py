"""How fast ``museviz fix`` is against a plain re-encode of the same clip.

    python bench/bench_fix.py [--quick] [--runs 5]

The input: a 60 s 640x360 25 fps talking face (``museviz.synth``, real speech) whose audio
is 80 ms late, so the fix moves the audio as well as re-encoding the pictures.

(a) the fix's write, ``museviz.fix.write_fixed``: one pass that decodes the source, picks
    the frame on screen at each output instant, encodes it (H.264, crf 18, preset medium,
    ffmpeg's ``-c:v libx264 -crf 18``), and decodes, moves and re-encodes the audio (AAC),
    against a plain PyAV decode-and-re-encode of the same clip with the same settings
    (H.264 crf 18 medium and AAC at the same bit rate): target <= 1.3. This is the work
    that replaces ffmpeg's command. Its plan is made outside the timing, from the clip
    measured once (the offset is then known, as when it is given).
(b) the whole fix as ``museviz fix --offset auto`` runs it (``museviz.fix.fix_clip``): the
    clip measured first (probe, checks, the sync estimate, which decodes every frame and
    tracks the face), written as in (a), and the fixed clip measured again for the proof,
    against the same re-encode. Reported with no target: the two measurements are the
    analysis museviz does anyway (``museviz audit`` of the source and of the fixed copy);
    (c) is one of them alone.

Input clips are written with x264 ``ultrafast`` to save time, into a temporary folder.
Times are medians of ``--runs``, the four interleaved, in one process, so only their
ratios mean anything on a shared machine. The encoder's threads take both cores, so the
wall-clock ratio moves with whatever else runs; (a') gives the same ratio in CPU seconds of
the process (every thread), which other processes disturb much less. ``--quick`` shrinks
the clip for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, print_table, speech_for, timed  # noqa: E402
from museviz import synth  # noqa: E402
from museviz.fix import VIDEO_CODEC, VIDEO_OPTIONS, VIDEO_PIX_FMT, FixOptions, fix_clip, measure, plan_fix, write_fixed  # noqa: E402
from museviz.remux import AUDIO_BIT_RATE, AUDIO_CODEC  # noqa: E402

TARGET_WRITE_VS_REENCODE = 1.3  # the fix's write / plain re-encode, at most
INPUT_OPTIONS = {"preset": "ultrafast", "crf": "23"}  # only for writing the benchmark's input
AUDIO_LATE_S = 0.08
FULL = (60.0, (640, 360))
QUICK = (8.0, (640, 360))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short clip: a smoke run, not the figures")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    duration_s, size = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="museviz-bench-fix-") as tmp:
        work = Path(tmp)
        clip = write_input(work / "late.mp4", duration_s, size)
        before = measure(clip)
        plan = plan_fix(before, FixOptions())
        plain_s, write_s, whole_s, measure_s, plain_cpu, write_cpu = [], [], [], [], [], []
        for _ in range(args.runs):
            wall, cpu = timed_cpu(lambda: reencode(clip, work / "plain.mp4"))
            plain_s.append(wall)
            plain_cpu.append(cpu)
            wall, cpu = timed_cpu(lambda: write_fixed(before.media, plan, work / "written.mp4"))
            write_s.append(wall)
            write_cpu.append(cpu)
            whole_s.append(timed(lambda: fix_clip(clip, work / "fixed.mp4")))
            measure_s.append(timed(lambda: measure(work / "fixed.mp4")))
        result = fix_clip(clip, work / "fixed.mp4")

    plain = median(plain_s)
    clip_text = f"{duration_s:g} s {size[0]}x{size[1]} 25 fps, audio {AUDIO_LATE_S * 1000:.0f} ms late"
    ratio_a, ratio_b = median(write_s) / plain, median(whole_s) / plain
    rows = [
        ("(a) fix's write / plain re-encode", clip_text, f"{median(write_s):.2f} s / {plain:.2f} s", f"{ratio_a:.2f}", f"<= {TARGET_WRITE_VS_REENCODE}", ratio_a <= TARGET_WRITE_VS_REENCODE),
        ("(a') the same in CPU seconds", clip_text, f"{median(write_cpu):.2f} s / {median(plain_cpu):.2f} s", f"{median(write_cpu) / median(plain_cpu):.2f}", "(context)", None),
        ("(b) museviz fix --offset auto / plain re-encode", clip_text, f"{median(whole_s):.2f} s / {plain:.2f} s", f"{ratio_b:.2f}", "(context)", None),
        ("(c) one measurement (probe, checks, sync estimate)", "the fixed clip", f"{median(measure_s):.2f} s", f"{median(measure_s) / plain:.2f}", "(context)", None),
    ]
    after = result.after.sync
    print(f"\nmuseviz fix benchmark{' (--quick: a short clip, not the figures)' if args.quick else ''}; medians of {args.runs} runs, "
          f"encoder {VIDEO_CODEC} {VIDEO_OPTIONS}")
    print(f"the fix: offset {result.before.sync.offset_frames:+d} frames measured, {after.offset_frames:+d} frames after ({after.offset_ms:+.0f} ms)")
    print_table(rows)


def timed_cpu(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, every thread of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), _cpu_s()
    fn()
    return time.perf_counter() - wall, _cpu_s() - cpu


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def write_input(path: Path, duration_s: float, size: tuple[int, int]) -> Path:
    """The talking face with real speech, its audio ``AUDIO_LATE_S`` late, encoded fast."""
    saved = dict(synth.H264_OPTIONS)
    synth.H264_OPTIONS.update(INPUT_OPTIONS)
    try:
        spec = synth.ClipSpec(fps=Fraction(25), duration_s=duration_s, size=size, audio=speech_for(duration_s), audio_delay_s=AUDIO_LATE_S)
        return synth.write_clip(path, spec)
    finally:
        synth.H264_OPTIONS.clear()
        synth.H264_OPTIONS.update(saved)


def reencode(src: Path, dst: Path) -> None:
    """The baseline: every frame decoded and encoded again, the audio decoded and encoded
    again, with the fix's codec settings, and nothing else."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format="mp4") as output:
        in_video, in_audio = source.streams.video[0], source.streams.audio[0]
        in_video.thread_type = "AUTO"
        out_video = output.add_stream(VIDEO_CODEC, rate=in_video.average_rate, options=dict(VIDEO_OPTIONS))
        out_video.width, out_video.height, out_video.pix_fmt = in_video.width, in_video.height, VIDEO_PIX_FMT
        out_video.time_base = out_video.codec_context.time_base = in_video.time_base
        out_video.codec_context.thread_type = "AUTO"
        rate = in_audio.codec_context.sample_rate
        out_audio = output.add_stream(AUDIO_CODEC, rate=rate, layout=in_audio.codec_context.layout.name)
        out_audio.bit_rate = AUDIO_BIT_RATE * in_audio.codec_context.channels
        for packet in source.demux(in_video, in_audio):
            for frame in packet.decode():
                if packet.stream is in_audio:
                    output.mux(out_audio.encode(frame))
                else:
                    frame.pict_type = av.video.frame.PictureType.NONE
                    output.mux(out_video.encode(frame))
        output.mux(out_video.encode())
        output.mux(out_audio.encode())


if __name__ == "__main__":
    main()
