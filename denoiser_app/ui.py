"""The page: one function per tab, each wiring its controls to the service.

Errors in the page are shown once, in the tab's alert box under its button: UI handlers never
raise (so gradio shows no toast and no red "Error" label over each output); they clear the
outputs a failed run would leave stale and say what went wrong. The API endpoints raise
gr.Error, which gradio_client turns into an exception for the calling program.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace

import gradio as gr

from . import compare as compare_mod
from . import synthetic as synthetic_mod
from .api import api_endpoints
from .errors import as_user_error
from .examples import example_photos
from .service import SAVE_AS, SSIM_LINE, DenoiserService
from .widgets import HIDDEN, RAW, file_path, photo_input, steps, tiles, training

SIGMA_MAX = 75.0  # the σ sliders; the API accepts up to 255
STRENGTH_RANGE = (0.25, 3.0)
HEADER = (
    "# Photo denoiser\n"
    "Removes the grain and colour speckle that low light leaves in phone and camera photos. Upload a photo "
    "(JPEG, PNG, HEIC, TIFF…), press Denoise, drag the slider to compare, and download it at full size."
)
UPLOAD_HINT = "Photos of any size, 8 or 16-bit, gray, colour or with transparency."
STRENGTH_INFO = "1 removes the noise the model measured; lower keeps more grain and texture, higher smooths more."
ADAPT_LABEL = "Adapt to this photo first (slower: up to {minutes} min)"
ADAPT_INFO = ("The model first learns the noise of this very photo from its plain areas (sky, walls), then removes "
              "it. Meant for phone photos taken in low light, whose noise differs from camera to camera.")
STRIP_LABEL = "Remove camera details: camera, date and GPS location (EXIF)"
STRIP_INFO = "Kept by default. A phone photo usually carries where it was taken; the colour profile always stays."
# On a phone the result sits below the examples: once a denoise has finished (the status has text),
# bring the result into view unless it already is (on a wide screen it sits beside the button).
SCROLL_TO_RESULT = """() => setTimeout(() => {
  const result = document.querySelector('#result-slider');
  const status = document.querySelector('#denoise-status');
  if (!result || !status || !status.innerText.trim()) return;
  const top = result.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight / 2) result.scrollIntoView({behavior: 'smooth', block: 'start'});
}, 200)"""
CSS = """
#denoise-button { min-height: 3.2rem; font-size: 1.15rem; }
.alert { border-left: 4px solid #dc2626; background: #fef2f2; color: #991b1b; padding: 10px 14px; border-radius: 6px; }
.alert .prose, .alert .md { border: none !important; padding: 0 !important; background: none !important; }
.dark .alert { background: #450a0a; color: #fecaca; }
.run-progress { min-height: 3.6rem; }  /* room for gradio's progress text above its bar */
.run-progress .prose { font-weight: 600; }
#compare-gallery .caption-label { white-space: normal; max-width: 100%; }
#synthetic-gallery .grid-wrap, #compare-gallery .grid-wrap { min-height: 0 !important; height: auto !important; max-height: none !important; }
#compare-gallery .thumbnail-item { display: flex; flex-direction: column; aspect-ratio: auto; height: auto; }
#compare-gallery .thumbnail-item .caption-label { position: static; transform: none; background: none; color: inherit; text-align: center; }
#compare-table td:not(:first-child), #compare-table th:not(:first-child), #compare-table th:not(:first-child) * { white-space: nowrap; word-break: keep-all; }
#compare-table .table-wrap, #compare-table .table-container { max-height: none !important; overflow-y: visible !important; }
#download .filename .stem { white-space: normal; overflow-wrap: anywhere; }
details summary { cursor: pointer; }
"""


def alert_box(elem_id: str) -> gr.Markdown:
    return gr.Markdown(visible=False, elem_id=elem_id, elem_classes=["alert"])


def guarded(fn: Callable, alert: gr.Markdown, on_error: dict) -> Callable:
    """A UI handler: fn returns {component: update}; any error becomes the one message in `alert`,
    together with the `on_error` updates (the outputs it clears). A success hides the alert
    unless fn updated it itself. Image payloads (events run with RAW) reach fn as file paths.
    (functools.wraps keeps fn's signature visible to gradio, which passes a gr.Progress in the
    place of a parameter that has one as its default.)"""

    @functools.wraps(fn)
    def handler(*args):
        try:
            updates = fn(*(file_path(a) if isinstance(a, dict) else a for a in args))
        except Exception as err:  # noqa: BLE001 - shown to the user; unexpected ones are logged
            message = as_user_error(err, fn.__name__).message
            return {**on_error, alert: gr.update(value=f"⚠ {message}", visible=True)}
        return {alert: gr.update(visible=False), **updates}

    return handler


def progress_line(elem_id: str) -> gr.Markdown:
    """The line under a run button where the run's progress shows ("Denoising 7/12 tiles"), then
    its outcome: where the person is looking when they press the button, on a phone too."""
    return gr.Markdown("", elem_id=elem_id, elem_classes=["run-progress"])


def run_on_click(button: gr.Button, handler: Callable, inputs: list, cleared: dict, alert: gr.Markdown,
                 progress: gr.Markdown, busy: str, group: str, then_js: str | None = None) -> None:
    """A run button: at once (no queue) the stale outputs and alert clear and the button turns into
    a disabled `busy` label; then the guarded handler runs, its progress drawn on `progress`
    (just under the button); then the button comes back, and `then_js` runs in the browser.
    group: the concurrency group (gradio's concurrency_id), so that a Compare never holds up a
    Denoise: each group has its own Settings.concurrency slots."""
    outputs = [*cleared, alert, progress]
    idle = button.value
    started = button.click(lambda: {**cleared, alert: gr.update(visible=False), progress: "",
                                    button: gr.update(interactive=False, value=busy)},
                           None, [*outputs, button], queue=False, show_progress="hidden", **HIDDEN)
    ran = started.then(guarded(handler, alert, {**cleared, progress: ""}), inputs, outputs, show_progress_on=[progress],
                       concurrency_id=group, api_name=f"{group}_run", **RAW, **HIDDEN)
    done = ran.then(lambda: gr.update(interactive=True, value=idle), None, button, queue=False, show_progress="hidden",
                    **HIDDEN)
    if then_js:
        done.then(None, None, None, js=then_js, queue=False, **HIDDEN)


def photo_tab(service: DenoiserService) -> dict:
    """Denoise: upload, strength, one button, before/after; the rest in "Advanced"."""
    ui = _photo_layout(service)
    _wire_photo_tab(service, ui)
    return {"photo": ui.photo, "reference": ui.reference}


def _photo_layout(service: DenoiserService) -> SimpleNamespace:
    """The Denoise tab's components, laid out; returned by name for the handlers and the wiring."""
    models = service.models
    blind = models.kind(models.photo_default) == "blind"
    with gr.Tab("Denoise", id="denoise"):
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300):
                photo = photo_input(label="Your photo", elem_id="photo-input", height=360)
                note = gr.Markdown(UPLOAD_HINT, elem_id="photo-note")
                strength = gr.Slider(*STRENGTH_RANGE, value=1.0, step=0.05, label="Strength", info=STRENGTH_INFO,
                                     elem_id="strength", visible=not blind)
                run = gr.Button("Denoise", variant="primary", size="lg", elem_id="denoise-button")
                busy = progress_line("denoise-progress")
                alert = alert_box("denoise-alert")
                # under the progress line, not above the button: there it pushed the progress off a 900 px screen
                adapt = gr.Checkbox(False, label=ADAPT_LABEL.format(minutes=f"{service.settings.adapt_minutes:g}"),
                                    info=ADAPT_INFO, elem_id="adapt-photo",
                                    visible=_can_adapt(service, models.photo_default))
                gr.Examples([[p] for p in example_photos()], inputs=[photo], label="Or try a noisy example photo",
                            elem_id="photo-examples")
            with gr.Column(min_width=300):
                slider = gr.ImageSlider(label="Before / after", type="filepath", format="png", interactive=False,
                                        elem_id="result-slider", buttons=["fullscreen"])
                status = gr.Markdown(elem_id="denoise-status")
                download = gr.File(label="Download", interactive=False, visible=False, elem_id="download")
                save_as = gr.Dropdown(list(SAVE_AS), value="png", label="Save as", elem_id="save-as")
                strip = gr.Checkbox(False, label=STRIP_LABEL, info=STRIP_INFO, elem_id="strip-metadata")
                last = gr.State(None, time_to_live=service.settings.output_ttl)  # the result, to save again
        with gr.Accordion("Advanced", open=False, elem_id="advanced"):
            model = gr.Radio(models.choices(), value=models.photo_default, label="Model",
                             visible=len(models.models) > 1, elem_id="model-choice")
            gr.Markdown(models.help_markdown(), elem_id="model-help")
            auto = gr.Checkbox(True, label="Estimate the noise level from the photo", elem_id="sigma-auto", visible=not blind)
            sigma = gr.Slider(0, SIGMA_MAX, value=25, step=0.5, label="Noise level σ (0–255 scale) when not estimated",
                              elem_id="sigma-slider", visible=not blind)
            reference = photo_input(label="Clean reference (optional, same size)", elem_id="reference-input", height=220)
            ref_note = gr.Markdown("A clean version of the same photo scores the result (PSNR / SSIM).", elem_id="reference-note")
            gr.Markdown(SSIM_LINE, elem_id="ssim-convention")
            table = gr.Dataframe(headers=["", "PSNR (dB)", "SSIM"], label="Against the reference", interactive=False,
                                 visible=False, elem_id="metrics-table")
            residual = gr.Image(label="Noise removed", type="filepath", format="png", interactive=False, visible=False,
                                buttons=["fullscreen"], elem_id="residual")
            gr.Markdown(models.details_markdown(service.settings.max_pixels), elem_id="model-details")
    cleared = {slider: None, status: "", download: gr.update(value=None, visible=False), last: None,
               table: gr.update(value=None, visible=False), residual: gr.update(value=None, visible=False)}
    return SimpleNamespace(photo=photo, note=note, strength=strength, adapt=adapt, run=run, busy=busy, alert=alert,
                           slider=slider, status=status, download=download, save_as=save_as, strip=strip, last=last, model=model,
                           auto=auto, sigma=sigma, reference=reference, ref_note=ref_note, table=table,
                           residual=residual, cleared=cleared)  # cleared: the outputs a new photo or run makes stale


def _can_adapt(service: DenoiserService, name: str) -> bool:
    """Whether to offer "Adapt to this photo" with this model (and on this server)."""
    from .adapting import adaptable

    return service.settings.adapt_minutes > 0 and adaptable(service.models.models[service.models.resolve(name)])


def _wire_photo_tab(service: DenoiserService, ui: SimpleNamespace) -> None:
    """The Denoise tab's events, in the order the page registers them."""
    on_photo, on_reference, on_model = _photo_input_handlers(service, ui)
    on_run, on_strength, on_save_as = _photo_result_handlers(service, ui)
    cleared, alert = ui.cleared, ui.alert
    ui.photo.change(guarded(on_photo, alert, {ui.photo: None, ui.note: UPLOAD_HINT, **cleared}),
                    [ui.photo, ui.model, ui.reference], [ui.photo, ui.note, ui.sigma, ui.reference, *cleared, alert],
                    show_progress_on=ui.note, **RAW, **HIDDEN)
    ui.reference.change(guarded(on_reference, alert, {ui.reference: None, ui.ref_note: ""}), [ui.reference, ui.photo],
                        [ui.reference, ui.ref_note, alert], show_progress_on=ui.ref_note, **RAW, **HIDDEN)
    ui.model.change(guarded(on_model, alert, {}), [ui.model, ui.photo],
                    [ui.auto, ui.sigma, ui.strength, ui.adapt, ui.note, alert],
                    show_progress_on=ui.note, **RAW, **HIDDEN)
    ui.sigma.input(lambda: False, None, ui.auto, queue=False, **HIDDEN)  # moving the slider overrides the estimate
    ui.strength.input(on_strength, [ui.last, ui.strength], [ui.busy, ui.status], queue=False, show_progress="hidden",
                      **HIDDEN)
    for control in (ui.save_as, ui.strip):
        control.input(guarded(on_save_as, alert, {}), [ui.last, ui.save_as, ui.strip], [ui.download, ui.status, alert],
                      show_progress_on=ui.download, **HIDDEN)
    run_on_click(ui.run, on_run, [ui.photo, ui.reference, ui.strength, ui.model, ui.sigma, ui.auto, ui.save_as, ui.strip,
                                  ui.adapt],
                 cleared, alert, ui.busy, "Denoising…", "denoise", then_js=SCROLL_TO_RESULT)


def _photo_input_handlers(service: DenoiserService, ui: SimpleNamespace) -> tuple[Callable, Callable, Callable]:
    """What a new photo, a new reference and a new model choice do (before any run)."""
    models, cleared = service.models, ui.cleared

    def on_photo(path, name, ref_path):
        if not path:
            return {ui.note: UPLOAD_HINT, ui.alert: gr.update(), **cleared}
        upload = service.inspect(path, name)
        out = {ui.note: upload.note, **cleared}
        if upload.converted:
            out[ui.photo] = upload.path
        if upload.sigma is not None:
            out[ui.sigma] = round(min(upload.sigma, SIGMA_MAX), 1)
        if ref_path:
            try:
                service.check_reference(ref_path, upload.path)
            except gr.Error as err:
                out |= {ui.reference: None,
                        ui.alert: gr.update(value=f"⚠ Reference removed: {err.message}", visible=True)}
        return out

    def on_reference(ref_path, path):
        if not ref_path:
            return {ui.ref_note: "", ui.alert: gr.update()}
        return {ui.ref_note: service.check_reference(ref_path, path)}

    def on_model(name, path):
        visible = models.kind(name) != "blind"
        out = {ui.auto: gr.update(visible=visible), ui.sigma: gr.update(visible=visible),
               ui.strength: gr.update(visible=visible), ui.adapt: gr.update(visible=_can_adapt(service, name))}
        if path:
            out[ui.note] = service.inspect(path, name).note
        return out

    return on_photo, on_reference, on_model


def _photo_result_handlers(service: DenoiserService, ui: SimpleNamespace) -> tuple[Callable, Callable, Callable]:
    """What Denoise does, and what moving Strength or changing how to save does to the result shown."""
    models = service.models

    def on_run(path, ref_path, strength_value, name, sigma_value, auto_value, save_as_value, strip_value,
               adapt_value=False, progress=gr.Progress()):
        usable = models.kind(name) != "blind"
        adapt_value = bool(adapt_value) and _can_adapt(service, name)  # a hidden box may still be ticked
        result = service.denoise(path, ref_path, None if auto_value or not usable else sigma_value, name,
                                 strength_value if usable else 1.0, tiles(progress), save_as_value, strip_value,
                                 stage=(stage := steps(progress, 6 if adapt_value else 5)),  # the stages, then previews
                                 adapt=adapt_value, adapt_progress=training(progress))
        stage("Making the previews")
        views = service.views(result)  # before the status, whose time includes them
        rows = result.table()
        return {ui.slider: (views.before, views.after), ui.status: result.status(), ui.last: result,
                ui.busy: result.headline(), ui.download: gr.update(value=result.path, visible=True),
                ui.table: gr.update(value=rows, visible=rows is not None),
                ui.residual: gr.update(value=views.residual, visible=True, label=f"Noise removed (×{views.gain:.0f})")}

    def on_strength(result, strength_value):
        """Moving Strength after a run: the result shown is marked as made at the old strength."""
        if result is None:
            return {}
        stale = result.stale(strength_value)
        if stale is None:
            return {ui.busy: result.headline(), ui.status: result.status()}
        return {ui.busy: stale, ui.status: f"**{stale}**\n\n{result.status()}"}

    def on_save_as(result, save_as_value, strip_value):
        if result is None:
            return {}
        service.save(result, save_as_value, strip_value)  # the same pixels, written again
        return {ui.download: gr.update(value=result.path, visible=True), ui.status: result.status()}

    return on_run, on_strength, on_save_as


def synthetic_tab(service: DenoiserService) -> None:
    """Add noise: seeded synthetic noise on a clean image, denoised and scored against it."""
    models = service.models
    with gr.Tab("Add noise", id="synthetic"):
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300):
                example = gr.Dropdown(list(synthetic_mod.EXAMPLE_IMAGES), value=synthetic_mod.EXAMPLE_IMAGES[0],
                                      label="Clean image (from scikit-image)")
                clean = photo_input(label="…or your own clean image", elem_id="clean-input", height=200)
                kind = gr.Dropdown([(label, k) for label, k, _ in synthetic_mod.NOISE_KINDS], value="gaussian", label="Noise")
                sliders = {
                    "sigma": gr.Slider(0, 100, value=25, step=0.5, label="σ (0–255 scale)"),
                    "shot": gr.Slider(0.0005, 0.02, value=0.004, step=0.0005, label="shot noise (grows with brightness)"),
                    "read": gr.Slider(0, 0.002, value=0.0002, step=0.00005, label="read noise (the same everywhere)"),
                    "peak": gr.Slider(1, 300, value=30, step=1, label="peak (photons at white; lower is noisier)"),
                    "amount": gr.Slider(0, 0.5, value=0.05, step=0.005, label="amount (fraction of pixels hit)"),
                    "beta1": gr.Slider(0, 0.05, value=0.01, step=0.0005, label="beta1 (signal-dependent variance)"),
                    "beta2": gr.Slider(0, 0.01, value=0.0005, step=0.0001, label="beta2 (constant variance)"),
                    "fraction": gr.Slider(0, 0.9, value=0.25, step=0.01, label="fraction of pixels missing"),
                }
                for name, control in sliders.items():
                    control.visible = name in synthetic_mod.NOISE_PARAMS["gaussian"]
                seed = gr.Number(value=0, precision=0, minimum=0, label="Seed (same seed, same noise)")
                model = gr.Radio(models.choices(), value=models.synthetic_default, label="Model",
                                 visible=len(models.models) > 1, elem_id="synthetic-model-choice")
                strength = gr.Slider(*STRENGTH_RANGE, value=1.0, step=0.05, label="Strength", elem_id="synthetic-strength",
                                     visible=models.kind(models.synthetic_default) != "blind")
                run = gr.Button("Add noise and denoise", variant="primary", elem_id="synthetic-button")
                busy = progress_line("synthetic-progress")
                alert = alert_box("synthetic-alert")
            with gr.Column(min_width=300):
                gallery = gr.Gallery(label="Clean, noisy, denoised", columns=3, object_fit="contain",
                                     elem_id="synthetic-gallery")
                table = gr.Dataframe(headers=["", "PSNR (dB)", "SSIM"], label="Against the clean image", interactive=False,
                                     visible=False, elem_id="synthetic-table")
                status = gr.Markdown(elem_id="synthetic-status")
                gr.Markdown(SSIM_LINE, elem_id="synthetic-ssim-convention")

    cleared = {gallery: None, table: gr.update(value=None, visible=False), status: ""}

    def on_run(example_name, clean_path, kind_name, seed_value, name, strength_value, sigma_value, shot, read, peak,
               amount, beta1, beta2, fraction, progress=gr.Progress()):
        values = (sigma_value, shot, read, peak, amount, beta1, beta2, fraction)  # in the order of `sliders`
        result = synthetic_mod.synthetic(service, example_name, clean_path, kind_name, dict(zip(sliders, values)),
                                         seed_value, name, strength_value, tiles(progress))
        images = [(result.clean, "clean"), (result.noisy, "noisy"), (result.denoised, "denoised")]
        return {gallery: images, table: gr.update(value=result.rows, visible=True), status: result.status}

    kind.change(lambda k: [gr.update(visible=n in synthetic_mod.NOISE_PARAMS.get(k, ())) for n in sliders],
                kind, list(sliders.values()), queue=False, **HIDDEN)
    model.change(lambda n: gr.update(visible=models.kind(n) != "blind"), model, strength, queue=False, **HIDDEN)
    run_on_click(run, on_run, [example, clean, kind, seed, model, strength, *sliders.values()], cleared, alert, busy,
                 "Working…", "synthetic")


def compare_tab(service: DenoiserService, photo_tab_inputs: dict) -> None:
    """Compare: every loaded model beside the classical denoisers on the photo's centre, all at one level."""
    models = service.models
    slow_labels = [models.label(n) for n in models.names() if n in compare_mod.SLOW_MODELS]
    with gr.Tab("Compare", id="compare"):
        gr.Markdown(compare_mod.description(service.settings.compare_max_pixels), elem_id="compare-description")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=300):
                photo = photo_input(label="Noisy photo", elem_id="compare-input", height=280)
                reference = photo_input(label="Clean reference (optional)", elem_id="compare-reference", height=200)
                auto = gr.Checkbox(True, label="Use the level the Denoise tab's model measures", elem_id="compare-auto")
                sigma = gr.Slider(1, SIGMA_MAX, value=25, step=0.5, label="…or this noise level σ for every method "
                                  "(0–255 scale)", elem_id="compare-sigma")
                slow = gr.Checkbox(False, label=f"Also run the {' and '.join(slow_labels)} (about 10x slower)",
                                   visible=bool(slow_labels), elem_id="compare-slow")
                copy = gr.Button("Use the Denoise tab's photo", elem_id="compare-copy")
                run = gr.Button("Compare", variant="primary", elem_id="compare-button")
                busy = progress_line("compare-progress")
                alert = alert_box("compare-alert")
                gr.Examples([[p] for p in example_photos()], inputs=[photo], label="Or try a noisy example photo")
            with gr.Column(min_width=300):
                note = gr.Markdown(elem_id="compare-note")
                gallery = gr.Gallery(label="The centre of your photo as each method left it (tap one for full size)",
                                     columns=3, object_fit="contain", elem_id="compare-gallery")
                table = gr.Dataframe(label="Scores and time per method", interactive=False, visible=False, wrap=True,
                                     max_height=2000, elem_id="compare-table")
                gr.Markdown(SSIM_LINE, elem_id="compare-ssim-convention")

    cleared = {gallery: None, table: gr.update(value=None, visible=False), note: ""}

    def on_run(path, ref_path, sigma_value, auto_value, slow_value, progress=gr.Progress()):
        progress((0, None), desc="Measuring the noise", unit="steps")
        report = (lambda done, total, what: progress((done, total), desc=f"Running {what}", unit="methods"))
        result = compare_mod.compare(service, path, ref_path, sigma_value, auto_value, report, slow=slow_value)
        frame = {"headers": result.columns, "data": result.rows}
        # shares of the width, so that the time column stays on a phone's screen (names wrap instead)
        widths = ["34%", "22%", "22%", "22%"] if len(result.columns) == 4 else ["28%", "18%", "16%", "19%", "19%"]
        return {gallery: result.gallery, note: result.note, busy: f"✓ Compared at σ = {result.level:.1f}.",
                table: gr.update(value=frame, visible=True, column_widths=widths)}

    copy.click(lambda a, b: (file_path(a), file_path(b)), [photo_tab_inputs["photo"], photo_tab_inputs["reference"]],
               [photo, reference], queue=False, **RAW, **HIDDEN)
    sigma.input(lambda: False, None, auto, queue=False, **HIDDEN)
    run_on_click(run, on_run, [photo, reference, sigma, auto, slow], cleared, alert, busy, "Comparing…", "compare")


def build_blocks(service: DenoiserService) -> gr.Blocks:
    """The whole page for a service."""
    ttl = service.settings.output_ttl
    with gr.Blocks(title="Photo denoiser", analytics_enabled=False,
                   delete_cache=(service.settings.prune_interval, ttl)) as demo:  # gradio's cache ages like ours
        gr.Markdown(HEADER, elem_id="header")
        with gr.Tabs(overflow_behavior="wrap"):  # every tab stays reachable on a phone (no "…" menu)
            inputs = photo_tab(service)
            synthetic_tab(service)
            compare_tab(service, inputs)
        api_endpoints(service)
    demo.service = service  # for tests and embedding
    return demo
