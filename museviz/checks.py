"""The known pitfalls, checked on one clip, each with its numbers and its fix.

Levels: ``ok`` nothing wrong; ``info`` a property of a system's rule that this clip
exposes (nothing to fix in the clip); ``warn`` some system will misalign or drop part of
this clip, and there is a fix; ``error`` a system fails on this clip, or the clip cannot
be used. Every check is reported on every clip, so audits get the same columns.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
from dataclasses import dataclass

import numpy as np

from museviz.grid import SAMPLE_RATE, TOKENS_PER_SECOND
from museviz.media import Media
from museviz.rules import Schedule, Timeline, schedule_all
from museviz.sync import KEEP_MAX_OFFSET_FRAMES, SyncResult, offset_words

OK, INFO, WARN, ERROR = "ok", "info", "warn", "error"
TARGET_FPS = 25  # the rate MuseTalk, Wav2Lip and LatentSync train at
DEFAULT_DURATION_TOLERANCE_S = 0.1
START_OFFSET_TOLERANCE_S = 0.001
TRAINING_RULES = ("syncnet-train", "musetalk-v1.5-train", "wav2lip-train")


@dataclass(frozen=True)
class Check:
    """One finding: a stable ``id``, a ``level``, a ``message`` with the numbers, a
    numeric ``value`` where one fits (units in the message), a ``fix`` command (ffmpeg) or
    None, and ``museviz_fix``: the ``museviz fix`` command that does the same (with a
    shell comment when it differs), or None."""

    id: str
    level: str
    message: str
    value: float | None = None
    fix: str | None = None
    museviz_fix: str | None = None


def run_checks(media: Media, timeline: Timeline, schedules: dict[str, Schedule], duration_tolerance_s: float = DEFAULT_DURATION_TOLERANCE_S) -> list[Check]:
    """All checks of one clip, in a fixed order."""
    name = shlex.quote(os.path.basename(media.path))
    checks = [_damaged(media, name), _no_audio(media, name), _audio_format(media), _vfr(media, timeline, name), _fps_not_25(timeline, name), _rotation(media, name)]
    if not media.audio.present or media.audio.n_samples_16k == 0:
        why = "the clip has no audio" if not media.audio.present else "its audio track holds no decodable samples"
        ids = ("duration-mismatch", "stream-start-offset", *RULE_CHECK_IDS, "training-window-short")
        return checks + [Check(i, INFO, f"not checked: {why}") for i in ids]
    return [
        *checks,
        _duration_mismatch(media, name, duration_tolerance_s),
        _start_offset(media, name),
        *rule_checks(timeline, schedules, name),
        _training_short(media, timeline, schedules, name),
    ]


SYSTEM_CHECK_IDS = (  # the pitfalls of the newer systems' rules (the checks below rule_checks)
    "float-frame-count", "v-express-tail", "sonic-12.5fps", "echomimic-24fps", "joyvasa-lead", "dinet-last-frame", "ip-lap-first-frames",
    "pc-avs-early", "musetalk-v15-train-slice", "mel-edge-librosa", "system-exits",
)
RULE_CHECK_IDS = ("v15-fps-truncation", "v15-padding-offset", "v15-window-overflow", "v1-extra-chunks", "wav2lip-tail", "wav2lip-train-shift", *SYSTEM_CHECK_IDS)
CLIP_CHECK_IDS = (  # every check of run_checks, in its order
    "damaged", "no-audio", "audio-format", "vfr", "fps-not-25", "rotation", "duration-mismatch", "stream-start-offset",
    *RULE_CHECK_IDS, "training-window-short",
)


def rule_checks(timeline: Timeline, schedules: dict[str, Schedule], name: str = "clip.mp4") -> list[Check]:
    """The checks that need only the timing (``RULE_CHECK_IDS``): the pitfalls of the rules
    themselves, which the Learn tab also shows for a frame rate and duration alone."""
    return [
        _v15_truncation(timeline, schedules["musetalk-v1.5"], name),
        _v15_padding(timeline, name),
        _v15_overflow(timeline, schedules["musetalk-v1.5"], name),
        _v1_extra(timeline, schedules["musetalk-v1"]),
        _wav2lip_tail(timeline, schedules["wav2lip"]),
        _wav2lip_train_shift(timeline),
        *system_checks(timeline, schedules, name),
    ]


def system_checks(timeline: Timeline, schedules: dict[str, Schedule], name: str = "clip.mp4") -> list[Check]:
    """The newer systems' pitfalls (``SYSTEM_CHECK_IDS``), from the timing alone."""
    return [
        _float_frame_count(timeline),
        _v_express_tail(timeline, schedules["v-express"]),
        _sonic_rate(schedules["sonic"]),
        _echomimic_rate(timeline, schedules["echomimic"]),
        _joyvasa_lead(schedules["joyvasa"]),
        _dinet_last_frame(timeline, schedules["dinet"]),
        _ip_lap_first_frames(schedules["ip-lap"]),
        _pc_avs_early(schedules["pc-avs"]),
        _musetalk_train_slice(timeline, name),
        _mel_edges(schedules),
        _system_exits(schedules),
    ]


def _reencode_25(name: str, out: str = "fixed_25fps.mp4") -> str:
    """ffmpeg's fps filter rounding up picks, for each output instant, the frame on screen then, as museviz fix does."""
    return f"ffmpeg -i {name} -vf fps={TARGET_FPS}:round=up -c:v libx264 -crf 18 -c:a copy {out}"


def museviz_fix(name: str, out: str, *options: str) -> str:
    """The ``museviz fix`` command line for the quoted file ``name``."""
    return " ".join(["museviz fix", name, "--out", out, *options])


def _fix_25(name: str) -> dict:
    return {"fix": _reencode_25(name), "museviz_fix": museviz_fix(name, "fixed_25fps.mp4", "--offset 0")}


def _fix_trim(name: str, keep_s: float, audio_shorter: bool) -> dict:
    instead = "  # pads the audio with silence to the video's length instead of cutting the video" if audio_shorter else ""
    return {"fix": f"ffmpeg -i {name} -t {keep_s:.3f} -c:v libx264 -crf 18 -c:a aac trimmed.mp4",
            "museviz_fix": museviz_fix(name, "trimmed.mp4", "--offset 0 --fps source --trim") + instead}


def _damaged(media: Media, name: str) -> Check:
    if media.damage is None:
        return Check("damaged", OK, "the whole file could be read")
    return Check("damaged", WARN, f"the file is truncated or damaged: {media.damage}; everything here covers only what could be read",
                 fix=f"ffmpeg -i {name} -c:v libx264 -crf 18 -c:a aac repaired.mp4")


def _no_audio(media: Media, name: str) -> Check:
    if not media.audio.present:
        return Check("no-audio", ERROR, "the clip has no audio track: no system can pair its frames with sound",
                     fix=f"ffmpeg -i {name} -i speech.wav -map 0:v -map 1:a -c:v copy -c:a aac -shortest with_audio.mp4")
    if media.audio.n_samples_16k == 0:
        return Check("no-audio", ERROR, "the audio track holds no decodable samples", 0.0)
    return Check("no-audio", OK, f"audio track present: {media.audio.duration_s:.2f} s")


def _audio_format(media: Media) -> Check:
    a = media.audio
    if not a.present:
        return Check("audio-format", INFO, "not checked: the clip has no audio")
    text = f"{a.codec}, {a.sample_rate} Hz, {a.channels} channel{'s' if a.channels != 1 else ''}"
    if a.sample_rate == SAMPLE_RATE and a.channels == 1:
        return Check("audio-format", OK, f"audio is {text}: already what the systems read", a.sample_rate)
    return Check("audio-format", INFO, f"audio is {text}: resampled to 16 kHz mono here, as every system does before its features", a.sample_rate)


def _vfr(media: Media, t: Timeline, name: str) -> Check:
    if t.n_frames < 2:
        return Check("vfr", INFO, f"only {t.n_frames} frame: the frame rate cannot be checked", None)
    intervals_ms = np.diff(t.frame_times_s) * 1000
    nominal_s = np.arange(t.n_frames) / t.fps + t.frame_times_s[0]
    worst_s = float(np.max(np.abs(t.frame_times_s - nominal_s)))
    span = f"frame intervals {intervals_ms.min():.1f} to {intervals_ms.max():.1f} ms"
    if media.video.vfr:
        return Check(
            "vfr", WARN,
            f"variable frame rate: {span}; a rule using one fps number ({t.fps:.3f}) puts some frames up to "
            f"{worst_s * 1000:.0f} ms from their real time",
            worst_s, _reencode_25(name, "constant_25fps.mp4"), museviz_fix(name, "constant_25fps.mp4", "--offset 0"),
        )
    return Check("vfr", OK, f"constant frame rate: {span}", worst_s)


def _rotation(media: Media, name: str) -> Check:
    degrees = media.video.rotation
    if not degrees:
        return Check("rotation", OK, "the picture is stored upright", 0.0)
    w, h = media.video.display_size
    return Check(
        "rotation", WARN,
        f"the picture is stored turned: players rotate it {degrees} degrees to show it {w}x{h}, and so does museviz; a "
        f"pipeline that reads the raw frames (a face detector, a frame extractor run with -noautorotate) sees it sideways",
        float(degrees), f"ffmpeg -i {name} -c:v libx264 -crf 18 -c:a copy upright.mp4",
    )


def _fps_not_25(t: Timeline, name: str) -> Check:
    if math.isclose(t.fps, TARGET_FPS, abs_tol=1e-9):
        return Check("fps-not-25", OK, "25 fps, the rate the systems train at", t.fps)
    return Check(
        "fps-not-25", WARN,
        f"{t.fps:.3f} fps, not 25: MuseTalk and Wav2Lip train at 25 fps and LatentSync re-encodes to 25, "
        f"which duplicates or drops frames",
        t.fps, **_fix_25(name),
    )


def _duration_mismatch(media: Media, name: str, tolerance_s: float) -> Check:
    diff_s = media.audio.duration_s - media.video.duration_s
    shorter = "shorter" if diff_s < 0 else "longer"
    text = (f"audio {media.audio.duration_s:.3f} s, video {media.video.duration_s:.3f} s: the audio is "
            f"{abs(diff_s) * 1000:.0f} ms {shorter} (tolerance {tolerance_s * 1000:.0f} ms)")
    if abs(diff_s) <= tolerance_s:
        return Check("duration-mismatch", OK, text, diff_s)
    keep_s = min(media.audio.duration_s, media.video.duration_s)
    return Check("duration-mismatch", WARN, text + "; filter this clip out of training or trim both to the shorter",
                 diff_s, **_fix_trim(name, keep_s, diff_s < 0))


def _start_offset(media: Media, name: str) -> Check:
    """The container starts audio and video at different times; a pipeline that pairs frame
    0 with sample 0 ignores that. The fix re-cuts the audio so that sample 0 is heard with
    frame 0 (trimmed when the audio starts first, padded with silence when it starts late)."""
    offset_s = media.video.start_offset_s
    if abs(offset_s) <= START_OFFSET_TOLERANCE_S:
        return Check("stream-start-offset", OK, "the first frame and the first audio sample start together", offset_s)
    when = "after" if offset_s > 0 else "before"
    recut = f"atrim=start={offset_s:.3f}" if offset_s > 0 else f"adelay={-offset_s * 1000:.0f}:all=1"
    return Check(
        "stream-start-offset", WARN,
        f"the first frame is shown {abs(offset_s) * 1000:.0f} ms {when} the first audio sample; pipelines that pair "
        f"frame 0 with sample 0 put the sound {abs(offset_s) * 1000:.0f} ms {'early' if offset_s < 0 else 'late'}",
        offset_s,
        f"ffmpeg -i {name} -vf setpts=PTS-STARTPTS -af {recut},asetpts=PTS-STARTPTS -c:v libx264 -crf 18 -c:a aac aligned.mp4",
        museviz_fix(name, "aligned.mp4", "--offset 0 --fps source"),
    )


def _v15_truncation(t: Timeline, v15: Schedule, name: str) -> Check:
    fps_int = int(t.fps)
    if fps_int < 1:
        return Check("v15-fps-truncation", ERROR, f"MuseTalk v1.5 cannot run at {t.fps:g} fps: {v15.error}", None, **_fix_25(name))
    if fps_int == t.fps:
        return Check("v15-fps-truncation", OK, f"int(fps) = {fps_int} is the frame rate itself: no drift", 0.0)
    per_minute_s = 60 * (1 - fps_int / t.fps)
    shown = np.flatnonzero(v15.source_frame >= 0)
    if not len(shown):
        return Check("v15-fps-truncation", WARN, f"v1.5 truncates {t.fps:.3f} fps to {fps_int}: {per_minute_s:.2f} s of drift a minute", None, **_fix_25(name))
    last = int(shown[-1])
    ahead_s = last / fps_int - float(v15.picture_times_s[last])
    return Check(
        "v15-fps-truncation", WARN,
        f"MuseTalk v1.5 truncates {t.fps:.3f} fps to int(fps) = {fps_int}: frame i reads audio at i/{fps_int} s but is "
        f"shown at its real time; at its last frame ({v15.picture_times_s[last]:.2f} s) the audio window is "
        f"{abs(ahead_s):.2f} s {'ahead of' if ahead_s >= 0 else 'behind'} the picture ({per_minute_s:.2f} s a minute at this rate)",
        ahead_s, **_fix_25(name),
    )


def _v15_padding(t: Timeline, name: str) -> Check:
    fps_int = int(t.fps)
    if fps_int < 1:
        return Check("v15-padding-offset", INFO, f"not checked: int(fps) = {fps_int}")
    pad_unit = math.ceil(TOKENS_PER_SECOND / fps_int)
    offset_ms = (4 - 2 * pad_unit) * 1000 / TOKENS_PER_SECOND
    if offset_ms == 0:
        return Check("v15-padding-offset", OK, f"v1.5 pads 2P = {2 * pad_unit} tokens on the left: windows sit where v1's do", 0.0)
    direction = "earlier" if offset_ms < 0 else "later"
    return Check(
        "v15-padding-offset", WARN,
        f"v1.5 pads 2P = {2 * pad_unit} tokens on the left at int(fps) = {fps_int} (P = ceil(50 / {fps_int})): every "
        f"window reads audio {abs(offset_ms):.0f} ms {direction} than v1's",
        offset_ms, **_fix_25(name),
    )


def _v15_overflow(t: Timeline, v15: Schedule, name: str) -> Check:
    if v15.error and v15.exit_frame is None:
        return Check("v15-window-overflow", ERROR, f"MuseTalk v1.5 cannot run: {v15.error}", None, **_fix_25(name))
    if v15.exit_frame is None:
        return Check("v15-window-overflow", OK, f"every one of v1.5's {v15.n_chunks} windows fits its padding", None)
    return Check(
        "v15-window-overflow", ERROR,
        f"MuseTalk v1.5 {v15.error}; an assertion fails and the process stops with "
        f"{math.floor(t.audio_duration_s * int(t.fps)) - v15.exit_frame} of its frames left",
        float(v15.exit_frame), **_fix_25(name),
    )


def _v1_extra(t: Timeline, v1: Schedule) -> Check:
    if v1.error:
        return Check("v1-extra-chunks", ERROR, f"MuseTalk v1 cannot run: {v1.error}")
    extra = v1.n_chunks - t.n_frames
    text = f"MuseTalk v1 makes {v1.n_chunks} chunks for {t.n_frames} frames"
    if extra > 0:
        past_ms = (v1.n_chunks / v1.fps_used - t.audio_duration_s) * 1000
        past = f"a result muxed at {v1.fps_used:g} fps runs {abs(past_ms):.0f} ms {'past the end of' if past_ms >= 0 else 'short of'} the audio"
        return Check("v1-extra-chunks", INFO, f"{text}: {extra} extra, so {past}", float(extra))
    if extra < 0:
        return Check("v1-extra-chunks", WARN, f"{text}: the last {-extra} frames get no audio window", float(extra))
    return Check("v1-extra-chunks", OK, f"{text}: one per frame", 0.0)


def _wav2lip_tail(t: Timeline, w2l: Schedule) -> Check:
    if w2l.error:
        return Check("wav2lip-tail", ERROR, f"Wav2Lip cannot run: {w2l.error}")
    missing = t.n_frames - w2l.n_chunks
    last = w2l.indices[-1]
    text = f"Wav2Lip makes {w2l.n_chunks} chunks for {t.n_frames} frames; its last window is pinned to mel [{last[0]}, {last[-1] + 1})"
    if missing > 0:
        short_ms = (t.audio_duration_s - w2l.n_chunks / t.fps) * 1000
        return Check("wav2lip-tail", INFO, f"{text}: the output loses the last {missing} frames and ends {short_ms:.0f} ms before the audio", float(missing))
    return Check("wav2lip-tail", OK, text, float(missing))


def _wav2lip_train_shift(t: Timeline) -> Check:
    return Check(
        "wav2lip-train-shift", INFO,
        f"Wav2Lip reads audio one frame ({1000 / t.fps:.0f} ms) later at inference ([int(80 i / fps), +16)) than in training "
        f"([int(80 (i - 1) / fps), +16))",
        1000 / t.fps,
    )


def _training_short(media: Media, t: Timeline, schedules: dict[str, Schedule], name: str) -> Check:
    """Training samples dropped near the end because the audio is shorter than the video.

    Compared against the same clip with audio exactly as long as the video, so a rule's
    own end effects (Wav2Lip always loses its last frames) do not count.
    """
    matched = dataclasses.replace(t, n_samples=round(t.video_duration_s * SAMPLE_RATE))
    baseline = schedule_all(matched, list(TRAINING_RULES))
    extra = {r: _dropped_at_end(schedules[r]) - _dropped_at_end(baseline[r]) for r in TRAINING_RULES}
    worst = max(extra.values())
    if worst <= 0:
        return Check("training-window-short", OK, "no training window is cut short by the audio ending early", 0.0)
    parts = ", ".join(f"{r} {n}" for r, n in extra.items() if n > 0)
    keep_s = min(media.audio.duration_s, media.video.duration_s)
    return Check(
        "training-window-short", WARN,
        f"the audio ends {t.video_duration_s - t.audio_duration_s:.3f} s before the video: training windows near the "
        f"end come out short and those samples are dropped ({parts} frames)",
        float(worst), **_fix_trim(name, keep_s, True),
    )


def _dropped_at_end(s: Schedule) -> int:
    return int((s.dropped & (s.raw[:, -1] >= s.n_valid)).sum()) if s.n_chunks else 0


def sync_check(result: SyncResult | None, error: str | None, path: str) -> Check:
    """``sync-offset`` of the clip at ``path``: the measured audio-visual offset against
    LatentSync's keep rule.

    ``value`` is the offset in ms, SyncNet's sign (positive: the audio leads).
    """
    if result is None:
        return Check("sync-offset", INFO, f"offset not measured: {error}")
    if not result.reliable:
        return Check("sync-offset", WARN, f"{result.words}; " + "; ".join(result.notes or result.reasons), None)
    text = f"{offset_words(result.offset_frames, result.fps, result.drift_ms_per_min)} (confidence {result.confidence:.2f})"
    museviz = _museviz_sync_fix(result, path)
    if not result.keep:
        return Check("sync-offset", WARN, f"{text}; " + "; ".join(result.reasons), result.offset_ms, result.fix, museviz)
    if result.offset_frames:
        kept = f"LatentSync's rule keeps it (|offset| <= {KEEP_MAX_OFFSET_FRAMES} frames), but the lips are off by that much"
        return Check("sync-offset", WARN, f"{text}; {kept}", result.offset_ms, result.fix, museviz)
    return Check("sync-offset", OK, text, result.offset_ms)


def _museviz_sync_fix(result: SyncResult, path: str) -> str | None:
    """``museviz fix`` moving the audio as the ffmpeg command in ``result.fix`` does; None without one."""
    if result.fix is None:
        return None
    stem, _ = os.path.splitext(os.path.basename(path))
    return museviz_fix(shlex.quote(os.path.basename(path)), shlex.quote(f"{stem}_synced.mp4"), f"--offset={result.offset_frames}f --fps source")


# -- the newer systems' pitfalls ------------------------------------------------------------------

EXITS_CHECKED_ELSEWHERE = ("musetalk-v1", "musetalk-v1.5", "wav2lip")  # their own checks report their failures
ZERO_PADDED_MEL = ("sadtalker", "videoretalking", "ip-lap", "diff2lip")  # pin librosa 0.9.2: zeros at the mel's edges
REFLECT_PADDED_MEL = ("wav2lip",)  # pins librosa 0.7: reflection, as museviz's mel80


def _float_frame_count(t: Timeline) -> Check:
    """Frame counts computed as ``ceil(N / 16000 * fps)`` or ``int(...)`` in floating point,
    against the same count in exact arithmetic."""
    n = t.n_samples
    padded = n + 1920  # JoyVASA's 1280 + 640 samples of silence
    counts = (
        ("hallo", f"ceil(N / 16000 * 25) = ceil({n / SAMPLE_RATE * 25!r})", math.ceil(n / SAMPLE_RATE * 25), -(-n * 25 // SAMPLE_RATE)),
        ("memo", f"ceil(N / 16000 * 30) = ceil({n / SAMPLE_RATE * 30!r})", math.ceil(n / SAMPLE_RATE * 30), -(-n * 30 // SAMPLE_RATE)),
        ("aniportrait", f"ceil(N / 16000 * 30) = ceil({n / SAMPLE_RATE * 30!r})", math.ceil(n / SAMPLE_RATE * 30), -(-n * 30 // SAMPLE_RATE)),
        ("v-express", f"int(N / 16000 * 30) = int({n / SAMPLE_RATE * 30.0!r})", int(n / SAMPLE_RATE * 30.0), n * 30 // SAMPLE_RATE),
        ("joyvasa", f"int((N + 1920) / 16000 * 25) = int({padded / SAMPLE_RATE * 25!r})", int(padded / SAMPLE_RATE * 25), padded * 25 // SAMPLE_RATE),
    )
    off = [(rule, text, got, exact) for rule, text, got, exact in counts if got != exact]
    if not off:
        return Check("float-frame-count", OK, f"N = {n}: the float frame counts of Hallo, MEMO, AniPortrait, V-Express and JoyVASA are exact", 0.0)
    parts = "; ".join(f"{rule} {text} = {got}, exactly {exact}: one frame too {'many' if got > exact else 'few'}" for rule, text, got, exact in off)
    return Check("float-frame-count", INFO, f"N = {n} samples: {parts}", float(len(off)))


def _v_express_tail(t: Timeline, vx: Schedule) -> Check:
    nominal = int(t.n_samples / SAMPLE_RATE * 30.0)
    if vx.error:
        return Check("v-express-tail", INFO, f"V-Express {vx.error}", None)
    dropped = nominal - vx.n_chunks
    return Check(
        "v-express-tail", INFO,
        f"V-Express counts int({t.n_samples} / 16000 * 30) = {nominal} frames, makes the {vx.n_chunks} its 24-frame windows (stride 20) "
        f"cover, dropping {dropped} at the end, and writes them at {vx.n_chunks} / {t.audio_duration_s:.3f} s = {vx.fps_used:.3f} fps, "
        f"stretched to the audio (motion generated for 30 fps plays {abs(30 / vx.fps_used - 1) * 100:.1f} % {'slower' if vx.fps_used < 30 else 'faster'})",
        vx.fps_used,
    )


def _sonic_rate(sonic: Schedule) -> Check:
    if sonic.error:
        return Check("sonic-12.5fps", INFO, f"Sonic {sonic.error}", None)
    n = sonic.n_chunks
    return Check(
        "sonic-12.5fps", INFO,
        f"Sonic generates {n} frames at 12.5 fps (one audio window per 80 ms); RIFE puts one between each pair, so of the "
        f"{2 * n - 1} frames at 25 fps, {n - 1} never had an audio window of their own",
        sonic.fps_used,
    )


def _echomimic_rate(t: Timeline, echo: Schedule) -> Check:
    fps = echo.fps_used
    if echo.error:
        return Check("echomimic-24fps", INFO, f"EchoMimic {echo.error}", fps)
    if math.isclose(t.fps, fps, abs_tol=1e-9):
        return Check("echomimic-24fps", OK, f"EchoMimic's default {fps:g} fps is this clip's rate", fps)
    last = echo.n_chunks - 1
    apart_s = last / fps - last / t.fps
    return Check(
        "echomimic-24fps", INFO,
        f"EchoMimic generates at its CLI default of {fps:g} fps, not this clip's {t.fps:.3f}: its frame {last} is shown at "
        f"{last / fps:.2f} s, where this clip shows frame {last} at {last / t.fps:.2f} s ({apart_s * 1000:+.0f} ms); pass --fps {t.fps:g} "
        f"to generate at the clip's rate",
        fps,
    )


def _joyvasa_lead(jv: Schedule) -> Check:
    lead_ms = 2 * 1000 / jv.fps_used
    return Check(
        "joyvasa-lead", INFO,
        f"JoyVASA pads the audio with 1280 samples of silence before it, so frame j hears samples [640 j - 1320, 640 j - 600): "
        f"2 frames ({lead_ms:.0f} ms) before the audio it is shown with; its training crops have no such lead",
        lead_ms,
    )


def _dinet_last_frame(t: Timeline, dinet: Schedule) -> Check:
    n_rows = t.n_features("deepspeech25")
    if dinet.error:
        return Check("dinet-last-frame", INFO, f"DINet {dinet.error}: no output at all", None)
    return Check(
        "dinet-last-frame", INFO,
        f"DINet has {n_rows} DeepSpeech rows but range(5, R + 4) makes only {dinet.n_chunks} frames: the last 40 ms of audio "
        f"never gets a frame (the audio is muxed in full)",
        float(n_rows - dinet.n_chunks),
    )


def _ip_lap_first_frames(ip: Schedule) -> Check:
    if not ip.n_chunks:
        return Check("ip-lap-first-frames", INFO, f"IP_LAP {ip.error}", None)
    exits = f"; it {ip.error}" if ip.error else ""
    return Check(
        "ip-lap-first-frames", INFO,
        f"IP_LAP writes its first rendered frame three times: output frames 0 and 1 are copies of frame 2, with its lips "
        f"(the audio of frames 0..4){exits}",
        2.0,
    )


def _pc_avs_early(pc: Schedule) -> Check:
    if pc.error:
        return Check("pc-avs-early", INFO, f"PC-AVS {pc.error}", None)
    early_ms = 2 * 1000 / pc.fps_used
    return Check(
        "pc-avs-early", INFO,
        f"PC-AVS saves target frame f as image f - 2 and muxes the audio from 0 s: every frame's lips show {early_ms:.0f} ms "
        f"(2 frames) before their audio, and its {pc.n_chunks} frames are 4 short of the audio's",
        early_ms,
    )


def _musetalk_train_slice(t: Timeline, name: str) -> Check:
    """MuseTalk 1.5's training dataloader, at 25 fps: which drive frames read audio from the
    wrong 30 s slice (750 frames and on), and whose SyncNet mel is 4 s early."""
    from museviz.systems.musetalk import SLICE_FRAMES, SLICE_LATE_START

    n = t.n_frames
    if n <= SLICE_LATE_START:
        return Check("musetalk-v15-train-slice", OK, f"{n} frames at 25 fps: every MuseTalk 1.5 training sample reads its own 30 s slice", 0.0)
    wrong = max(n - SLICE_FRAMES, 0)
    frames = np.arange(n)
    mel_early = int(((frames % SLICE_FRAMES) >= SLICE_LATE_START).sum())
    return Check(
        "musetalk-v15-train-slice", WARN,
        f"MuseTalk 1.5 training at 25 fps: the {wrong} drive frames from frame {SLICE_FRAMES} (30 s) on read whisper features "
        f"of the first 30 s (the loop's slice is thrown away), and {mel_early} frames with start % 750 >= 700 read a SyncNet "
        f"mel 4 s early; cut training clips at 28 s",
        float(wrong),
        f"ffmpeg -i {name} -c:v libx264 -crf 18 -c:a aac -f segment -segment_time 28 -reset_timestamps 1 part_%03d.mp4",
    )


def _mel_edges(schedules: dict[str, Schedule]) -> Check:
    """Windows that read the first or last 2 mel frames, which a centred STFT pads by
    reflection in librosa 0.7 and with zeros from 0.9 on."""
    counts = {}
    for rule in (*REFLECT_PADDED_MEL, *ZERO_PADDED_MEL):
        s = schedules[rule]
        if not s.n_chunks:
            continue
        read = s.indices[~s.dropped] if s.dropped.any() else s.indices
        counts[rule] = int(((read >= 0) & ((read < 2) | (read >= s.n_valid - 2))).any(axis=1).sum())
    zero_padded = sum(counts.get(r, 0) for r in ZERO_PADDED_MEL)
    parts = ", ".join(f"{rule} {n}" for rule, n in counts.items())
    return Check(
        "mel-edge-librosa", INFO if zero_padded else OK,
        f"the first and last 2 mel frames depend on librosa: 0.7 (Wav2Lip's pin, and museviz's mel80) pads by reflection, 0.9 "
        f"(SadTalker, VideoReTalking, IP_LAP, Diff2Lip) with zeros; windows reading them: {parts}",
        float(zero_padded),
    )


def _system_exits(schedules: dict[str, Schedule]) -> Check:
    failing = [(name, s) for name, s in schedules.items() if s.error and name not in EXITS_CHECKED_ELSEWHERE]
    if not failing:
        return Check("system-exits", OK, "every system makes its frames of this clip", 0.0)
    parts = "; ".join(f"{name} {s.error}" for name, s in failing)
    return Check("system-exits", INFO, f"{len(failing)} system{'s' if len(failing) > 1 else ''} cannot run on this clip as it is: {parts}", float(len(failing)))
