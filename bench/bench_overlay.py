"""How fast the overlay renders, and how much memory it takes on a long clip.

    python bench/bench_overlay.py [--quick] [--runs 3] [--only a]

(a') overlay render time over a plain PyAV re-encode of the same 60 s 640x360 25 fps
    clip padded with black to the overlay's size (target <= 1.5): the baseline decodes
    every frame (threaded), pads it with FFmpeg's ``pad`` filter, encodes it with libx264
    and the overlay's own settings (``VIDEO_OPTIONS``, printed) and copies the audio
    packets; the same ratio in CPU time (all threads), steadier on a shared machine;
(a) the same against the re-encode at the clip's own size (context: the strip adds
    pixels to encode);
(a'') (a') on synth's scrolling gradient instead of the face: a picture that costs the
    encoder more, as real footage does (context);
(b) the overlay against a naive renderer that draws every frame as a matplotlib figure,
    on a 5 s excerpt (target >= 20 x faster);
(c) peak resident memory of a child process rendering a 10 minute 1280x720 clip
    (target < 1 GB), next to a 1 minute one of the same size: flat. The child analyses
    the clip first; its peak is reset before the render and reported apart.

Input clips are written with ``museviz.synth`` (x264 ``ultrafast`` to save time) into a
temporary folder. Times are medians of ``--runs``, overlay and baseline interleaved, all
in one process, so only their ratios mean anything on a shared machine. ``--quick``
shrinks every clip for a smoke run; ``--only a`` measures (a) and (a') alone.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _floor  # noqa: E402
from bench._common import median, print_table, speech_for, timed  # noqa: E402
from museviz import synth  # noqa: E402
from museviz.analysis import Analysis, Options, analyze  # noqa: E402
from museviz.overlay import DEFAULT_OVERLAY_RULES, VIDEO_CODEC, FrameView, VIDEO_OPTIONS, VIDEO_PIX_FMT, render_overlay  # noqa: E402
from museviz.palette import rule_color  # noqa: E402
from museviz.rules import MEL80, chunk_for_frame  # noqa: E402

TARGET_VS_REENCODE = 1.5  # overlay / re-encode padded to the overlay's size, at most
TARGET_VS_NAIVE = 20.0  # naive / overlay, at least
TARGET_PEAK_MB = 1024.0  # peak RSS, under
INPUT_OPTIONS = {"preset": "ultrafast", "crf": "23"}  # only for writing the benchmark's inputs

FULL = {"speed": (60.0, (640, 360)), "moving": (60.0, (640, 360)), "excerpt": (5.0, (640, 360)), "long": (600.0, (1280, 720)), "flat": (60.0, (1280, 720))}
QUICK = {"speed": (8.0, (640, 360)), "moving": (8.0, (640, 360)), "excerpt": (2.0, (640, 360)), "long": (40.0, (640, 360)), "flat": (8.0, (640, 360))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small clips: a smoke run, not the figures")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["a"], help="a: only (a) and (a'), the render against the re-encodes")
    parser.add_argument("--child-render", nargs=2, metavar=("CLIP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_render:
        return child_render(*args.child_render)

    sizes = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="museviz-bench-overlay-") as tmp:
        work = Path(tmp)
        if args.only == "a":
            sizes = {"speed": sizes["speed"]}
        clips = {name: write_input(work / f"{name}.mp4", *spec, face=name != "moving") for name, spec in sizes.items()}
        rows = []

        speed = analyze(clips["speed"], Options())
        overlay_size = _output_size(speed)
        overlay_s, plain_s, padded_s, overlay_cpu, padded_cpu = [], [], [], [], []
        for _ in range(args.runs):
            overlay_cpu.append(cpu_timed(lambda: overlay_s.append(timed(lambda: render_overlay(speed, work / "overlay.mp4")))))
            plain_s.append(timed(lambda: reencode(clips["speed"], work / "plain.mp4")))
            padded_cpu.append(cpu_timed(lambda: padded_s.append(timed(lambda: reencode(clips["speed"], work / "padded.mp4", pad_to=overlay_size)))))
        ratio_pad = median(overlay_s) / median(padded_s)
        size_text = f"padded to {overlay_size[0]}x{overlay_size[1]}"
        rows.append(("(a') overlay / re-encode padded to its size", size_text, f"{median(overlay_s):.2f} s / {median(padded_s):.2f} s", f"{ratio_pad:.2f}", f"<= {TARGET_VS_REENCODE}", ratio_pad <= TARGET_VS_REENCODE))
        ratio_cpu = median(overlay_cpu) / median(padded_cpu)
        rows.append(("(a') in CPU time, all threads", size_text, f"{median(overlay_cpu):.2f} s / {median(padded_cpu):.2f} s", f"{ratio_cpu:.2f}", "(context)", None))
        ratio_a = median(overlay_s) / median(plain_s)
        rows.append(("(a) overlay / plain re-encode", _clip_text(sizes["speed"]), f"{median(overlay_s):.2f} s / {median(plain_s):.2f} s", f"{ratio_a:.2f}", "(context)", None))
        if args.only == "a":
            return _print_rows(rows, args)

        moving = analyze(clips["moving"], Options())
        overlay_s, padded_s = [], []
        for _ in range(args.runs):
            overlay_s.append(timed(lambda: render_overlay(moving, work / "overlay-moving.mp4")))
            padded_s.append(timed(lambda: reencode(clips["moving"], work / "padded-moving.mp4", pad_to=overlay_size)))
        ratio = median(overlay_s) / median(padded_s)
        rows.append(("(a'') the same, moving picture", _clip_text(sizes["moving"]) + ", gradient", f"{median(overlay_s):.2f} s / {median(padded_s):.2f} s", f"{ratio:.2f}", "(context)", None))

        excerpt = analyze(clips["excerpt"], Options())
        overlay_s, naive_s = [], []
        for _ in range(args.runs):
            overlay_s.append(timed(lambda: render_overlay(excerpt, work / "overlay-excerpt.mp4")))
            naive_s.append(timed(lambda: render_naive(excerpt, work / "naive.mp4")))
        ratio_b = median(naive_s) / median(overlay_s)
        rows.append(("(b) naive matplotlib / overlay", _clip_text(sizes["excerpt"]), f"{median(naive_s):.2f} s / {median(overlay_s):.2f} s", f"{ratio_b:.1f} x", f">= {TARGET_VS_NAIVE:g} x", ratio_b >= TARGET_VS_NAIVE))

        for name, label in (("flat", "(c') peak RSS rendering, shorter clip"), ("long", "(c) peak RSS rendering")):
            peak = peak_rss_mb(clips[name], work / f"{name}-overlay.mp4")
            measured = f"analyse alone peaks at {peak['peak-analyse']:.0f} MB"
            rows.append((label, _clip_text(sizes[name]), measured, f"{peak['peak-render']:.0f} MB", f"< {TARGET_PEAK_MB:.0f} MB", peak["peak-render"] < TARGET_PEAK_MB))
    _print_rows(rows, args)


def _print_rows(rows: list[tuple], args: argparse.Namespace) -> None:
    print(f"\nmuseviz overlay benchmark{' (--quick: small clips, not the figures)' if args.quick else ''}; medians of {args.runs} runs, encoder {VIDEO_CODEC} {VIDEO_OPTIONS}")
    print_table(rows)


def cpu_timed(fn) -> float:
    """CPU seconds of this process, every thread counted, while ``fn`` runs."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def _output_size(analysis: Analysis) -> tuple[int, int]:
    """The overlay's frame size: what ``FrameView`` lays out, as the render does."""
    geometry = FrameView(analysis).geometry
    return geometry.width, geometry.height


def _clip_text(spec: tuple[float, tuple[int, int]]) -> str:
    duration_s, (width, height) = spec
    return f"{duration_s:g} s {width}x{height} 25 fps"


@contextlib.contextmanager
def fast_input_encoder():
    """``synth.write_clip`` encodes with ``synth.H264_OPTIONS``; a faster preset for the inputs."""
    saved = dict(synth.H264_OPTIONS)
    synth.H264_OPTIONS.update(INPUT_OPTIONS)
    try:
        yield
    finally:
        synth.H264_OPTIONS.clear()
        synth.H264_OPTIONS.update(saved)


def write_input(path: Path, duration_s: float, size: tuple[int, int], face: bool = True) -> Path:
    """A talking face, or (``face=False``) synth's scrolling gradient: a picture that moves everywhere."""
    with fast_input_encoder():
        spec = synth.ClipSpec(fps=Fraction(25), duration_s=duration_s, size=size, audio=speech_for(duration_s), face=face)
        return synth.write_clip(path, spec)


def reencode(src: Path, dst: Path, pad_to: tuple[int, int] | None = None) -> None:
    """The baseline: every frame decoded and encoded again with the overlay's settings
    (padded with black to ``pad_to``), audio copied (``bench._floor.reencode``)."""
    _floor.reencode(src, dst, VIDEO_CODEC, VIDEO_PIX_FMT, VIDEO_OPTIONS, pad_to)


def render_naive(analysis: Analysis, dst: Path) -> None:
    """What one would write first: a matplotlib figure per frame, drawn to an array, encoded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from museviz.media import iter_frames

    times_s = analysis.timeline.frame_times_s
    whisper = analysis.whisper.features[:, -1, :].T
    lanes = {MEL80: (analysis.mel80, 80.0), "whisper50": (whisper, 50.0)}
    with av.open(str(dst), "w", format="mp4") as output:
        stream = None
        for frame_idx, rgb in iter_frames(analysis.media):
            t_s = times_s[frame_idx]
            fig, axes = plt.subplots(3, 1, figsize=(6.4, 6.0), dpi=100, gridspec_kw={"height_ratios": [3, 1, 1]})
            axes[0].imshow(rgb)
            axes[0].set_axis_off()
            axes[0].set_title(f"frame {frame_idx}  t = {t_s:.3f} s")
            for ax, (stream_name, (features, rate)) in zip(axes[1:], lanes.items()):
                ax.imshow(features, origin="lower", aspect="auto", extent=(0, features.shape[1] / rate, 0, features.shape[0]))
                ax.set_xlim(t_s - 1, t_s + 1)
                ax.axvline(t_s, color="white")
                for name in DEFAULT_OVERLAY_RULES:
                    s = analysis.schedules[name]
                    k = chunk_for_frame(s, frame_idx)
                    if s.stream == stream_name and k is not None:
                        start = (s.raw[k, 0] - 0.5) / rate
                        ax.add_patch(Rectangle((start, 0), s.raw.shape[1] / rate, features.shape[0], fill=False, color=rule_color(name), lw=2))
            fig.canvas.draw()
            image = np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
            plt.close(fig)
            if stream is None:
                stream = output.add_stream(VIDEO_CODEC, rate=analysis.media.video.fps_fraction, options=dict(VIDEO_OPTIONS))
                stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], VIDEO_PIX_FMT
            output.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        output.mux(stream.encode())


def peak_rss_mb(clip: Path, out: Path) -> dict[str, float]:
    """Resident memory in MB of a fresh process that analyses ``clip``, then renders it.

    The child reads its peak (``VmHWM``) from /proc after analysing, resets it
    (``clear_refs``), renders, and reads it again: the render's own peak, on top of what
    the analysis holds.
    """
    done = subprocess.run([sys.executable, __file__, "--child-render", str(clip), str(out)], capture_output=True, text=True, check=True)
    return {key: float(value) for key, value in (line.split() for line in done.stdout.splitlines() if line.startswith("peak-"))}


def child_render(clip: str, out: str) -> None:
    analysis = analyze(clip, Options())
    print(f"peak-analyse {_status_mb('VmHWM')}")
    Path("/proc/self/clear_refs").write_text("5")
    render_overlay(analysis, out)
    print(f"peak-render {_status_mb('VmHWM')}")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


if __name__ == "__main__":
    main()
