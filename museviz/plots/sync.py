"""Does the mouth move with the voice? The measured audio-visual offset."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from museviz.palette import LEVEL_COLORS, rule_color
from museviz.plots._common import AUDIO_END_COLOR, LABEL_SIZE, SMALL_SIZE, _framed
from museviz.sync import (
    KEEP_MAX_OFFSET_FRAMES,
    KEEP_MIN_CONFIDENCE,
    MAX_LAG_FRAMES,
    NATURAL_LEAD_S,
    SyncResult,
)


def sync_figure(result: SyncResult, frame_times_s: np.ndarray) -> Figure:
    """Does the mouth move with the voice? The correlation over lags (SyncNet's search)
    against what chance gives on this clip, the offset over sliding windows (a ramp is
    drift), and the two signals themselves, the voice moved to where it matches best."""
    mouth_color, sound_color, keep_color = "#333333", rule_color("wav2lip"), LEVEL_COLORS["ok"]
    verdict = f"; confidence {result.confidence:.2f} (reliable at {KEEP_MIN_CONFIDENCE} or more)" + ("" if result.keep else ": not kept")
    fig, body = _framed(13.0, 7.2, "Does the mouth move with the voice, and how far apart are they?", result.words[:1].upper() + result.words[1:] + verdict)
    top, bottom = body.subfigures(2, 1, height_ratios=(1.15, 1))
    ax_curve, ax_track = top.subplots(1, 2, width_ratios=(1, 1.4))
    frame_ms = 1000.0 / result.fps
    q = result.quality
    keep_band = (-KEEP_MAX_OFFSET_FRAMES - 0.5, KEEP_MAX_OFFSET_FRAMES + 0.5)
    ax_curve.axvspan(*keep_band, color=keep_color, alpha=0.08, label=f"|offset| <= {KEEP_MAX_OFFSET_FRAMES} frames (kept)")
    if np.isfinite(q.null_sd):
        ax_curve.axhspan(q.null_mean - 2 * q.null_sd, q.null_mean + 2 * q.null_sd, color="0.5", alpha=0.15, lw=0,
                         label="chance on this clip (voice shifted 1 s or more; +-2 sd)")
    ax_curve.plot(result.lags_frames, result.curve, color=mouth_color, lw=1.3, label="correlation of mouth and voice")
    if result.reliable:
        peak = result.offset_ms / frame_ms
        ax_curve.plot([peak], [q.peak_correlation], marker="v", color=AUDIO_END_COLOR, markersize=9, ls="none",
                      label=f"peak: {result.offset_ms:+.0f} ms = {result.offset_frames:+d} frames")
    if q.runner_up_ms is not None:
        ax_curve.plot([q.runner_up_ms / frame_ms], [q.runner_up_correlation], marker="v", mfc="white", mec="0.4", markersize=8, ls="none",
                      label="best competing peak")
    finite = result.curve[np.isfinite(result.curve)]
    low, high = (min(finite.min(), q.null_mean - 2 * q.null_sd), finite.max()) if len(finite) and np.isfinite(q.null_sd) else (-1.0, 1.0)
    ax_curve.set_ylim(low - 0.05, high + 0.7 * (high - low))  # room for the legend above the curve
    ax_curve.set_xlabel("lag (frames); + = audio early (leads the video)", fontsize=LABEL_SIZE)
    ax_curve.set_ylabel("correlation", fontsize=LABEL_SIZE)
    ax_curve.set_title(f"the whole clip (natural lead of the mouth, {NATURAL_LEAD_S * 1000:.0f} ms, taken out)", fontsize=LABEL_SIZE, loc="left")
    ax_curve.legend(fontsize=SMALL_SIZE, loc="upper left", frameon=False)
    ax_curve.grid(True, color="0.88", lw=0.5)
    ax_curve.secondary_xaxis("top", functions=(lambda f: f * frame_ms, lambda ms: ms / frame_ms)).set_xlabel("ms", fontsize=SMALL_SIZE)
    if result.track:
        centres = np.array([(p.t_start_s + p.t_end_s) / 2 for p in result.track])
        offsets = np.array([p.offset_frames for p in result.track])
        confident = np.array([p.confidence >= KEEP_MIN_CONFIDENCE for p in result.track])
        ax_track.axhspan(*keep_band, color=keep_color, alpha=0.08)
        ax_track.plot(centres, offsets, color="0.6", lw=1.0)
        ax_track.plot(centres[confident], offsets[confident], "o", color=mouth_color, markersize=5, label="window offset")
        ax_track.plot(centres[~confident], offsets[~confident], "o", mfc="white", mec="0.5", markersize=5, label=f"confidence below {KEEP_MIN_CONFIDENCE}")
        ax_track.legend(fontsize=SMALL_SIZE, loc="best", frameon=False)
    window_s = result.track[0].t_end_s - result.track[0].t_start_s if result.track else 0
    drift = "" if result.drift_ms_per_min is None else f": drifts {result.drift_ms_per_min:+.0f} ms a minute"
    ax_track.set_title(f"over {window_s:g} s windows{drift}" if result.track else "the clip is too short for a track", fontsize=LABEL_SIZE, loc="left")
    ax_track.set_xlabel("window centre (s)", fontsize=LABEL_SIZE)
    ax_track.set_ylabel("offset (frames)", fontsize=LABEL_SIZE)
    ax_track.set_ylim(-MAX_LAG_FRAMES - 1, MAX_LAG_FRAMES + 1)
    ax_track.grid(True, color="0.88", lw=0.5)
    ax_sig = bottom.subplots()
    lag_s = result.raw_lag_ms / 1000.0
    ax_sig.plot(frame_times_s, _zscore(result.mouth_signal), color=mouth_color, lw=1.0, label=f"mouth openness (dark share of the mouth, {result.roi_source} region)")
    ax_sig.plot(frame_times_s + lag_s, _zscore(result.sound_signal), color=sound_color, lw=1.0, alpha=0.85,
                label=f"voice (1-3 kHz amplitude), moved {lag_s * 1000:+.0f} ms to where it matches best")
    ax_sig.set_xlabel("frame time (s)", fontsize=LABEL_SIZE)
    ax_sig.set_ylabel("z-score", fontsize=LABEL_SIZE)
    ax_sig.legend(fontsize=SMALL_SIZE, loc="upper right", ncols=2, frameon=False)
    ax_sig.grid(True, color="0.88", lw=0.5)
    for ax in (ax_curve, ax_track, ax_sig):
        ax.tick_params(labelsize=SMALL_SIZE + 0.5)
    return fig


def _zscore(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    spread = finite.std() if len(finite) else 0.0
    return (values - finite.mean()) / spread if spread > 0 else values * 0.0
