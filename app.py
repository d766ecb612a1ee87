"""museviz in the browser: upload a video, see how each lip-sync system maps its frames onto
the audio features, inspect one frame, or learn the rules with no upload.

    python app.py            # GRADIO_SERVER_NAME / GRADIO_SERVER_PORT choose where it listens

Limits and settings come from the environment: see museviz/config.py and the README.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(), "museviz-gradio"))

import gradio as gr  # noqa: E402  (GRADIO_TEMP_DIR must be set before gradio is imported)

from museviz import webapp  # noqa: E402
from museviz.checks import DEFAULT_DURATION_TOLERANCE_S  # noqa: E402
from museviz.config import CONCURRENCY, MAX_UPLOAD_MB, QUEUE_SIZE  # noqa: E402
from museviz.lse import CROP_FACE, CROP_MODES, KEEP_MIN_LSE_C  # noqa: E402
from museviz.plots import DEFAULT_PLOT_RULES  # noqa: E402
from museviz.rules import RULES  # noqa: E402
from museviz.mouth import DEFAULT_ROI  # noqa: E402
from museviz.spec import MUSETALK_V1_SPEC  # noqa: E402
from museviz.sync import KEEP_MAX_OFFSET_FRAMES, KEEP_MIN_CONFIDENCE  # noqa: E402

ASSETS = Path(__file__).parent / "assets"
EXAMPLES = [
    ("sync_25fps.mp4", "In sync, 25 fps"),
    ("sync_29.97fps.mp4", "In sync, 29.97 fps"),
    ("audio_late_120ms.mp4", "Audio 120 ms late"),
    ("audio_short.mp4", "Audio shorter than video"),
    ("vfr.mp4", "Variable frame rate"),
]
CACHE_CLEANUP = (3600, 3600)  # every hour, delete uploads and results older than an hour
CSS = (Path(__file__).parent / "museviz" / "webapp.css").read_text()

with gr.Blocks(title="museviz", delete_cache=CACHE_CLEANUP) as demo:
    gr.Markdown(
        "# museviz\nHow talking-head systems (MuseTalk, Wav2Lip, LatentSync, Hallo, MEMO, Sonic, EchoMimic, the NeRF "
        "family and more: every one in the table on the Learn tab) pair each video frame with a window of audio features, "
        "what goes wrong at the edges and with frame rates, and whether the lips move with the sound."
    )
    analysis_id = gr.State()

    with gr.Tab("Analyze"):
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                video = gr.Video(label="Video (mp4, mov, webm, mkv, avi)", sources=["upload"], elem_id="video_in")
                gr.Examples(
                    [[str(ASSETS / name)] for name, _ in EXAMPLES], inputs=[video],
                    example_labels=[label for _, label in EXAMPLES], label="Examples", cache_examples=False,
                )
                with gr.Accordion("Settings", open=False):
                    rules = gr.CheckboxGroup(list(RULES), value=list(DEFAULT_PLOT_RULES), label="Rules to show")
                    whisper = gr.Dropdown(webapp.checkpoint_choices(), value=webapp.checkpoint_choices()[0], label="Whisper model")
                    fps = gr.Number(None, label="Frame rate pipelines believe (empty: the container's average rate)", minimum=0)
                    tolerance = gr.Number(DEFAULT_DURATION_TOLERANCE_S, label="Audio/video duration tolerance (s)", minimum=0)
                    roi = gr.Textbox(label="Mouth region for the sync estimate: x,y,w,h as fractions of the frame (empty: find the face)",
                                     placeholder=str(DEFAULT_ROI), elem_id="roi")
                    syncnet = gr.Dropdown(webapp.syncnet_choices(), value=webapp.syncnet_choices()[0][1], label="SyncNet weights for LSE-C / LSE-D (the server's)")
                    lse_crop = gr.Radio(list(CROP_MODES), value=CROP_FACE, label="SyncNet's input: face crops, or whole frames for clips that are already face crops")
                    with_overlay = gr.Checkbox(True, label="Render the overlay video")
                    shift = gr.Slider(-500, 500, 0, step=10, label="Overlay audio shift (ms; positive delays the audio)")
                run = gr.Button("Analyze", variant="primary", elem_id="run")
                with gr.Accordion("Fix this clip", visible=False, elem_id="fix_panel") as fix_panel:
                    gr.Markdown(
                        "A fixed copy, H.264 + AAC: a constant frame rate (each frame the one on screen at its time), the offset "
                        "removed (SyncNet's sign: `-3f` = the audio is 3 frames late, `120ms` = 120 ms early, `auto` = as measured), "
                        "the audio cut or padded to the video's length if asked; then analysed again. The same as `museviz fix`."
                    )
                    with gr.Group():
                        fix_offset = gr.Textbox("0", label="Offset to remove (auto, 0, -3f, 120ms)", elem_id="fix_offset")
                        fix_fps = gr.Dropdown(list(webapp.FIX_FPS_CHOICES), value=webapp.FIX_FPS_CHOICES[0], allow_custom_value=True,
                                              label="Frame rate (source: the clip's own, made constant)", elem_id="fix_fps")
                        fix_trim = gr.Checkbox(False, label="Cut or pad the audio to the video's length", elem_id="fix_trim")
                        fix_rate = gr.Dropdown(list(webapp.FIX_SAMPLE_RATE_CHOICES), value=webapp.FIX_SAMPLE_RATE_CHOICES[0], label="Audio sample rate (Hz)",
                                               elem_id="fix_rate")
                    fix_run = gr.Button("Fix", variant="primary", elem_id="fix_run")
                    fix_summary = gr.HTML(elem_id="fix_summary")
                    fixed_video = gr.Video(label="The fixed clip", elem_id="fixed_video", interactive=False)
                    fixed_file = gr.File(label="Download the fixed clip", elem_id="fixed_file", interactive=False)
                    with gr.Accordion("The fix as data", open=False):
                        fix_report = gr.JSON(elem_id="fix_report")
            with gr.Column(scale=3):
                banner = gr.Markdown(elem_id="banner")
                summary = gr.HTML(elem_id="summary")
                sync = gr.HTML(elem_id="sync")
                lse = gr.HTML(elem_id="lse")
                checks = gr.HTML(elem_id="checks")
        with gr.Row():
            overlay = gr.Video(label="Overlay: the frame with both feature streams and each rule's window", elem_id="overlay", interactive=False)
            downloads = gr.File(label="Downloads", file_count="multiple", elem_id="downloads", interactive=False)
        gr.Markdown("### Plots", elem_id="plots_heading")
        plots = {name: gr.Image(show_label=False, elem_id=f"plot_{name}", type="filepath", interactive=False) for name in webapp.PLOT_NAMES}
        with gr.Accordion("report.json", open=False):
            report = gr.JSON(elem_id="report")

    with gr.Tab("Inspect"):
        gr.Markdown("Move the slider (or type a time) to see any frame of the analysed clip and the window each rule gives it.")
        with gr.Row():
            frame_idx = gr.Slider(0, 1, 0, step=1, label="Frame", elem_id="frame_slider")
            frame_time = gr.Number(0, label="Time (s)", elem_id="frame_time")
        with gr.Row():
            frame_image = gr.Image(label="The frame and its windows", elem_id="frame_image", interactive=False, scale=3)
            frame_formulas = gr.HTML(elem_id="frame_formulas", min_height=200)
        frame_windows = gr.Image(show_label=False, elem_id="frame_windows", interactive=False)

    with gr.Tab("Learn"):
        gr.Markdown(webapp.LEARN_TEXT)
        with gr.Row():
            learn_fps = gr.Dropdown(list(webapp.LEARN_FPS_CHOICES), value="29.97", allow_custom_value=True, label="Frame rate (15 to 60)")
            learn_duration = gr.Slider(1, 300, 60, step=1, label="Duration (s)")
            learn_frame = gr.Slider(0, 300, webapp.LEARN_COMPARE_FRAME, step=1, label="Frame to compare the systems at", elem_id="learn_frame")
        learn_rules = gr.CheckboxGroup(list(RULES), value=list(DEFAULT_PLOT_RULES), label="Rules", elem_id="learn_rules")
        with gr.Accordion("A rule of your own", open=False):
            learn_spec = gr.Textbox(lines=9, label="Rule spec (TOML or JSON): name, grid, fps, frames, centre, window, edge, resample",
                                    placeholder=MUSETALK_V1_SPEC, elem_id="learn_spec")
            learn_spec_draw = gr.Button("Draw my rule beside the others", elem_id="learn_spec_draw")
        learn_compare = gr.Image(show_label=False, elem_id="learn_compare", interactive=False)
        learn_pitfalls = gr.HTML(elem_id="learn_pitfalls")
        learn_timeline = gr.Image(show_label=False, elem_id="learn_timeline", interactive=False)
        learn_drift = gr.Image(show_label=False, elem_id="learn_drift", interactive=False)
        learn_mapping = gr.Image(show_label=False, elem_id="learn_mapping", interactive=False)
        gr.Markdown("### Every system: what it reads and how")
        gr.HTML(webapp.systems_html(), elem_id="systems_table")

    with gr.Tab("Audit"):
        gr.Markdown(
            "Upload a .zip of clips to check a small dataset: each clip's frame rate, durations, checks and sync, "
            "and whether to keep it for training. For thousands of clips use `museviz audit DIR --out audit.csv`."
        )
        with gr.Row():
            audit_zip = gr.File(label="Clips (.zip)", file_types=[".zip"], elem_id="audit_zip")
            with gr.Column():
                audit_tolerance = gr.Number(DEFAULT_DURATION_TOLERANCE_S, label="Duration tolerance (s)", minimum=0)
                audit_offset = gr.Number(KEEP_MAX_OFFSET_FRAMES, label="Largest |offset| kept (frames)", minimum=0, precision=0)
                audit_confidence = gr.Number(KEEP_MIN_CONFIDENCE, label="Smallest sync confidence kept", minimum=0)
                audit_lse_c = gr.Number(KEEP_MIN_LSE_C, label="Smallest LSE-C kept (with SyncNet weights; LatentSync's 3)", minimum=0)
                audit_run = gr.Button("Audit", variant="primary", elem_id="audit_run")
        audit_summary = gr.Markdown(elem_id="audit_summary")
        audit_table = gr.Dataframe(elem_id="audit_table", interactive=False, wrap=True)
        audit_files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="audit_files")

    outputs = dict(plots, banner=banner, summary=summary, checks=checks, sync_panel=sync, lse_panel=lse, overlay=overlay, downloads=downloads,
                   report=report, analysis_id=analysis_id, frame_idx=frame_idx)
    run.click(
        webapp.run_analysis,
        [video, rules, whisper, fps, tolerance, roi, with_overlay, shift, syncnet, lse_crop],
        [outputs[name] for name in webapp.ANALYZE_OUTPUTS],
        api_name="analyze", concurrency_limit=CONCURRENCY,
    ).success(webapp.fix_defaults, [analysis_id], [fix_panel, fix_offset, fix_fps, fix_trim, fix_rate], api_name=False)
    video.change(webapp.fix_hidden, None, [fix_panel, fix_summary, fixed_video, fixed_file, fix_report], api_name=False)
    fix_run.click(webapp.run_fix, [video, analysis_id, fix_offset, fix_fps, fix_trim, fix_rate], [fix_summary, fixed_video, fixed_file, fix_report],
                  api_name="fix", concurrency_limit=CONCURRENCY)
    audit_run.click(webapp.run_audit_zip, [audit_zip, audit_tolerance, audit_offset, audit_confidence, audit_lse_c],
                    [audit_summary, audit_table, audit_files], api_name="audit", concurrency_limit=1)
    frame_idx.change(webapp.inspect_frame, [analysis_id, frame_idx, rules], [frame_image, frame_formulas, frame_time],
                     api_name="inspect", trigger_mode="always_last", show_progress="hidden")
    frame_idx.release(webapp.inspect_plot, [analysis_id, frame_idx, rules], [frame_windows],
                      api_name="inspect_plot", trigger_mode="always_last")
    frame_time.submit(webapp.frame_at_time, [analysis_id, frame_time], [frame_idx], api_name="frame_at_time").then(
        webapp.inspect_plot, [analysis_id, frame_idx, rules], [frame_windows], api_name=False
    )
    learn_inputs = [learn_fps, learn_duration, learn_rules, learn_spec]
    gr.on(
        [demo.load, learn_fps.change, learn_duration.release, learn_rules.change, learn_spec_draw.click],
        webapp.learn, learn_inputs, [learn_timeline, learn_drift, learn_mapping, learn_pitfalls], api_name="learn", trigger_mode="always_last",
    ).success(webapp.learn_compare, [*learn_inputs, learn_frame], [learn_compare], api_name=False)
    learn_frame.release(webapp.learn_compare, [*learn_inputs, learn_frame], [learn_compare], api_name="learn_compare", trigger_mode="always_last")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE).launch(
        max_file_size=f"{MAX_UPLOAD_MB}mb", css=CSS, allowed_paths=[str(ASSETS)],
    )
