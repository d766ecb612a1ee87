"""LSE-C / LSE-D of a 60 s 640x360 25 fps clip: time against the clip's duration, peak memory.

    python bench/bench_lse.py [--runs 3] [--seconds 60]

Targets: ``measure_lse`` (the int16 audio, one decoding pass tracking the face and making
the face crops as the boxes settle, SyncNet on every window, the metric) faster than real
time on this machine's CPU cores, and the process's peak memory under 2 GB. The
measurement runs in a fresh process (so its peak resident memory is LSE's, plus the
libraries it needs). Weights: museviz's cached ``syncnet_v2.model`` when present, else
random ones of the same shape (the same compute). Also printed, as context: the decoding
pass with the face track and the crops alone, and SyncNet alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import median, talking_clip, timed  # noqa: E402

TARGET_REALTIME = 1.0  # LSE time / clip duration: less than this
TARGET_PEAK_MB = 2048


def checkpoint(folder: Path) -> str:
    import torch

    from museviz.syncnet import SyncNet
    from museviz.weights import cache_path

    if Path(cache_path()).is_file():
        return cache_path()
    path = folder / "syncnet_random.model"
    torch.manual_seed(0)
    torch.save(SyncNet().state_dict(), path)
    return str(path)


def child(clip: str, weights: str, runs: int) -> dict:
    """Time LSE in this process; its figures as a dict."""
    import numpy as np

    from museviz.lse import SlotCropper, measure_lse, pcm16_audio, slot_frames
    from museviz.media import read_media
    from museviz.sync import mouth_reader
    from museviz.syncnet import LseRun, load_syncnet
    from museviz.videopass import run_pass

    media = read_media(clip)
    net = load_syncnet(weights)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    video = media.video
    slots = slot_frames(video.frame_times_s, float(video.frame_times_s[0]) + video.duration_s)

    def crops_only():
        faces = mouth_reader(media)
        run_pass(media, [faces, SlotCropper(slots, len(slots), lambda crop: None, faces)])

    def network_only():
        run = LseRun(weights, pcm16_audio(media), len(slots))
        crops = np.random.default_rng(0).integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
        for k in range(run.n_frames_needed):
            run.add(crops[k % len(crops)])
        run.finish()

    lse_s, crops_s, network_s = [], [], []
    for _ in range(runs):
        lse_s.append(timed(lambda: results.append(measure_lse(media, weights, "face"))))
        crops_s.append(timed(crops_only))
        network_s.append(timed(network_only))
    lse = results[-1]
    return {
        "duration_s": video.duration_s, "n_frames": video.n_frames, "n_windows": lse.scores.n_windows,
        "lse_s": lse_s, "crops_s": crops_s, "network_s": network_s, "device": net.device,
        "weights": net.name, "lse_c": lse.scores.lse_c, "lse_d": lse.scores.lse_d, "offset": lse.scores.offset_frames,
        "baseline_mb": baseline_mb, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


results: list = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--child", nargs=2, metavar=("CLIP", "WEIGHTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.runs)))
        return

    with tempfile.TemporaryDirectory(prefix="museviz-bench-") as tmp:
        work = Path(tmp)
        clip = talking_clip(work / "clip.mp4", args.seconds)
        weights = checkpoint(work)
        done = subprocess.run([sys.executable, __file__, "--child", str(clip), weights, "--runs", str(args.runs)],
                              capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    runs = lambda ts: ", ".join(f"{t:.2f}" for t in ts)
    ratio = median(r["lse_s"]) / r["duration_s"]
    print(f"clip: {r['duration_s']:.0f} s, 25 fps, 640x360, {r['n_frames']} frames, {r['n_windows']} windows; "
          f"weights {r['weights']} on {r['device']}; {args.runs} runs, medians")
    print(f"measure_lse (face crops):       {median(r['lse_s']):.2f} s  (runs: {runs(r['lse_s'])})")
    print(f"  decoding + face track + crops alone: {median(r['crops_s']):.2f} s  (runs: {runs(r['crops_s'])})")
    print(f"  SyncNet + metric alone:              {median(r['network_s']):.2f} s  (runs: {runs(r['network_s'])})")
    print(f"time / clip duration: {ratio:.2f}  (target < {TARGET_REALTIME:g}, faster than real time: "
          f"{'met' if ratio < TARGET_REALTIME else 'NOT met'})")
    print(f"peak memory of the process: {r['peak_mb']:.0f} MB (before LSE: {r['baseline_mb']:.0f} MB)  "
          f"(target < {TARGET_PEAK_MB} MB: {'met' if r['peak_mb'] < TARGET_PEAK_MB else 'NOT met'})")
    print(f"result: LSE-C {r['lse_c']:.3f}, LSE-D {r['lse_d']:.3f}, offset {r['offset']:+d}")


if __name__ == "__main__":
    main()
