"""What do the two audio streams look like under the video frames?"""

from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from museviz.grid import SOURCE_FALLBACK
from museviz.plots._common import (
    _LEGEND,
    LABEL_SIZE,
    MAX_FRAME_LINES,
    SMALL_SIZE,
    SPARSE_FRAME_LINES,
    _end_lines,
    _first_time_s,
    _framed,
    _video_end_s,
)
from museviz.rules import MEL80, STREAM_RATES, WHISPER50, Timeline

# About two columns per pixel of the figure: more are averaged in groups before matplotlib
# resamples them (its resampling of a 10 minute clip's 30000 whisper50 columns took 500 MB).
MAX_IMAGE_COLUMNS = 2600


def features_figure(
    timeline: Timeline, mel80: np.ndarray, whisper50: np.ndarray, source: str, model: str | None = None, layer: int = -1
) -> Figure:
    """The mel80 spectrogram (80, M) and whisper50 features (W, layers, dim) on one time axis.

    ``source`` (``SOURCE_ENCODER`` or ``SOURCE_FALLBACK``) and ``model`` say where the
    whisper50 features came from; the fallback is called one. ``layer`` picks the hidden
    state shown (the last by default). Video frame boundaries are drawn over both (every
    n-th one on long clips).
    """
    return layer_figure(timeline, mel80, *shown_layer(whisper50, layer), source, model)


def shown_layer(whisper50: np.ndarray, layer: int = -1) -> tuple[np.ndarray, int, int]:
    """The (W, dim) hidden state ``layer`` of whisper50 (W, layers, dim), its index and the
    number of layers: what ``features_figure`` draws of it."""
    if whisper50.ndim != 3:
        raise ValueError(f"whisper50 has shape {whisper50.shape}: expected (W, layers, dim)")
    n_layers = whisper50.shape[1]
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer {layer} does not exist: whisper50 has {n_layers} layers (0 to {n_layers - 1})")
    return whisper50[:, layer % n_layers, :], layer % n_layers, n_layers


def layer_figure(timeline: Timeline, mel80: np.ndarray, layer_states: np.ndarray, layer_idx: int, n_layers: int, source: str, model: str | None = None) -> Figure:
    """``features_figure`` from the one layer it shows (``shown_layer``): a process that
    draws it is sent a fifth of the features."""
    if mel80.ndim != 2:
        raise ValueError(f"mel80 has shape {mel80.shape}: expected (80, M)")
    fallback = source == SOURCE_FALLBACK
    if fallback:
        source = f"{SOURCE_FALLBACK} FALLBACK (no Whisper weights: log-mel averaged to 50 Hz, not encoder features)"
    elif model:
        source = f"{source} ({model})"
    answer = (
        f"mel80: {mel80.shape[1]} frames at 80 Hz; whisper50: {layer_states.shape[0]} tokens at 50 Hz from {source}; "
        f"video: {timeline.n_frames} frames, their boundaries in white"
    )
    fig, body = _framed(13.0, 7.4, "What do the two audio streams look like under the video frames?", answer)
    ax_mel, ax_tok = body.subplots(2, 1, sharex=True)
    _feature_image(ax_mel, mel80, STREAM_RATES[MEL80], "magma", (-4.0, 4.0), "mel80 value")
    tokens = layer_states.T
    limits = tuple(np.percentile(tokens, (1, 99))) if tokens.size else (0.0, 1.0)
    _feature_image(ax_tok, tokens, STREAM_RATES[WHISPER50], "viridis", limits, "log-mel value" if fallback else "hidden state (1–99 %)")
    ax_mel.set_ylabel("mel80 bin (55–7600 Hz)\none column = 12.5 ms", fontsize=LABEL_SIZE)
    layer_words = "its only layer" if n_layers == 1 else f"layer {layer_idx} of 0–{n_layers - 1}" + (" (last)" if layer_idx == n_layers - 1 else "")
    ax_tok.set_ylabel(f"{'log-mel bin' if fallback else 'dimension'}, {layer_words}\none column = 20 ms", fontsize=LABEL_SIZE)
    ax_mel.set_title(f"mel80 (Wav2Lip, SyncNet): {mel80.shape[1]} frames", fontsize=LABEL_SIZE, loc="left")
    ax_tok.set_title(f"whisper50 (MuseTalk, LatentSync): {layer_states.shape[0]} tokens, {source}", fontsize=LABEL_SIZE, loc="left")
    ax_tok.set_xlabel("time (s), 0 = first audio sample", fontsize=LABEL_SIZE)
    boundary = _frame_lines(ax_mel, timeline)
    _frame_lines(ax_tok, timeline)
    for ax in (ax_mel, ax_tok):
        _end_lines(ax, timeline)
    end_s = max(timeline.audio_duration_s, _video_end_s(timeline), 0.04)
    ax_tok.set_xlim(min(0.0, _first_time_s(timeline)) - 0.01 * end_s, 1.01 * end_s)
    handles = [boundary, _LEGEND["audio end"](), _LEGEND["video end"]()]
    body.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=SMALL_SIZE + 0.5, frameon=False)
    return fig


def _feature_image(ax, values: np.ndarray, rate: float, cmap: str, limits: tuple[float, float], label: str) -> None:
    """``values`` (bins, n) with column ``j`` centred at ``j / rate`` seconds; more than
    ``MAX_IMAGE_COLUMNS`` are averaged in groups of ``g`` first (the last group padded with
    the last column, which moves the image's end by under a pixel)."""
    n_bins, n = values.shape
    if n == 0:
        ax.text(0.5, 0.5, "no audio: no features", transform=ax.transAxes, ha="center", va="center", fontsize=LABEL_SIZE)
        return
    group = -(-n // MAX_IMAGE_COLUMNS)
    if group > 1:
        padded = np.pad(np.asarray(values, np.float32), ((0, 0), (0, -n % group)), mode="edge")
        values = padded.reshape(n_bins, -1, group).mean(axis=2, dtype=np.float32)
    end_s = (values.shape[1] * group - 0.5) / rate
    image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, vmin=limits[0], vmax=limits[1], extent=(-0.5 / rate, end_s, -0.5, n_bins - 0.5), interpolation="nearest" if n < 2000 else "antialiased")
    bar = ax.figure.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
    bar.set_label(label, fontsize=SMALL_SIZE + 0.5)
    bar.ax.tick_params(labelsize=SMALL_SIZE)
    ax.tick_params(labelsize=SMALL_SIZE + 0.5)


def _frame_lines(ax, t: Timeline) -> Line2D:
    """Video frame boundaries over an image (every n-th one on long clips); a legend handle."""
    step = max(1, -(-t.n_frames // MAX_FRAME_LINES))
    ylim = ax.get_ylim()
    times = t.frame_times_s[::step]
    ax.vlines(times, *ylim, colors="white", lw=0.6, alpha=0.55 if len(times) <= SPARSE_FRAME_LINES else 0.3, zorder=3)
    ax.set_ylim(*ylim)
    label = "video frame boundaries" if step == 1 else f"every {step}th video frame boundary"
    return Line2D([], [], color="white", lw=1.5, label=label, path_effects=[patheffects.withStroke(linewidth=3, foreground="0.3")])
