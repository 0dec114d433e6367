"""``mtcnn-data evaluate``."""

from __future__ import annotations

import click

from .options import pop_backend, parse_thresholds, worker_options

#: options that choose or configure the detector run; meaningless with --detections
_DETECTOR_OPTIONS = ("pnet", "rnet", "onet", "wider", "wider_annotations", "wider_images", "max_images", "top",
                     "min_face", "thresholds", "min_side", "workers", "backend", "scheduler", "address")


@click.command("evaluate")
@click.option("--pnet", help="P-Net checkpoint or 'facenet' (the detector to run; or give --detections).")
@click.option("--rnet", help="R-Net checkpoint or 'facenet'.")
@click.option("--onet", help="O-Net checkpoint or 'facenet'.")
@click.option("--wider", type=click.Path(file_okay=False), help="WIDER FACE root.")
@click.option("--split", type=click.Choice(["train", "val"]), default="val", show_default=True,
              help="WIDER split under --wider (the AP ground truth is the val split's).")
@click.option("--wider-annotations", type=click.Path(dir_okay=False), help="Annotation file, for another layout.")
@click.option("--wider-images", type=click.Path(file_okay=False), help="Image folder, for another layout.")
@click.option("--max-images", type=click.IntRange(1), help="Only the first N images present, in annotation order.")
@click.option("--min-side", type=float, default=20.0, show_default=True, help="Faces with min(w,h) below this are not counted (recall).")
@click.option("--iou", type=float, default=0.5, show_default=True, help="IoU at which a detection finds a face.")
@click.option("--top", type=click.IntRange(0), default=0, show_default=True,
              help="Keep only each image's TOP best-scoring detections (0: all): recall at a fixed budget.")
@click.option("--min-face", type=float, default=20.0, show_default=True,
              help="Detector: smallest face side searched, pixels (--min-side only chooses the faces counted).")
@click.option("--thresholds", default="0.6,0.7,0.7", show_default=True, callback=parse_thresholds,
              help="Detector: face-probability floors of P-Net, R-Net, O-Net.")
@click.option("--gt-dir", type=click.Path(file_okay=False),
              help="The WIDER FACE evaluation toolkit's ground_truth/ folder: also report easy/medium/hard AP "
                   "by the official protocol (needs scipy: pip install \"mtcnn-data[eval]\").")
@click.option("--detections", type=click.Path(file_okay=False),
              help="Score this folder of WIDER FACE submission files (DIR/<event>/<image>.txt) against --gt-dir "
                   "instead of running a detector.")
@click.option("--png", "png_out", type=click.Path(dir_okay=False), help="Draw the three PR curves here (needs --gt-dir).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the figures (and PR curves) here.")
@worker_options
@click.pass_context
def evaluate(ctx, pnet, rnet, onet, wider, split, wider_annotations, wider_images, max_images, min_side, iou, top,
             min_face, thresholds, gt_dir, detections, png_out, json_out, **workers):
    """Recall and detections of the cascade (as far as the stages given) on WIDER-format
    annotations: the images present on disk, faces with min(w,h) >= --min-side; with
    --gt-dir also the WIDER FACE AP of the easy / medium / hard settings. With
    --detections DIR --gt-dir GT, the AP of any detector's submission folder. With
    --workers N the images are shared out among N processes (or a Dask / Ray cluster)."""
    if png_out and not gt_dir:
        raise click.UsageError("--png draws the precision-recall curves of the AP: give --gt-dir too")
    if detections:
        fig = _score_folder(ctx, detections, gt_dir, iou)
    else:
        fig = _run_detector(pnet, rnet, onet, wider, split, wider_annotations, wider_images, max_images, min_side,
                            iou, top, min_face, thresholds, gt_dir, workers["workers"], pop_backend(workers))
    _write_outputs(fig, png_out, json_out)


def _score_folder(ctx, detections, gt_dir, iou) -> dict:
    from ..tools.wider_eval import evaluate_folder, report_lines

    given = [f"--{name.replace('_', '-')}" for name in _DETECTOR_OPTIONS
             if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"--detections scores a folder without running a detector; it cannot be combined "
                               f"with {', '.join(given)}")
    if not gt_dir:
        raise click.UsageError("--detections needs --gt-dir (the evaluation toolkit's ground_truth/ folder)")
    report = evaluate_folder(detections, gt_dir, iou)
    for line in report_lines(report):
        click.echo(line)
    return {"detections_dir": detections, **report}


def _run_detector(pnet, rnet, onet, wider, split, wider_annotations, wider_images, max_images, min_side, iou, top,
                  min_face, thresholds, gt_dir, workers, backend) -> dict:
    from ..detect.detector import DetectorConfig
    from ..tools.detecting import DetectorSpec
    from ..errors import EvaluationError
    from ..io.datasets import resolve_dataset
    from ..tools.evaluate import as_submission, detect_images, faces_to_find, recall_figures

    if not pnet:
        raise click.UsageError("give a detector to run (--pnet, optionally --rnet/--onet) or --detections DIR")
    if not (wider or (wider_annotations and wider_images)):
        raise click.UsageError("give --wider ROOT (or --wider-annotations FILE with --wider-images DIR)")
    truth = _load_truth(gt_dir)
    dataset = resolve_dataset("wider", wider, split, annotations=wider_annotations, images=wider_images)
    images = faces_to_find(dataset, min_side)[:max_images]
    if not images:
        raise EvaluationError(f"none of the images annotated in {dataset.annotation_files['annotations']} is present under "
                              f"{dataset.image_root}; check --wider / --wider-images and --split")
    spec = DetectorSpec(pnet, rnet, onet, DetectorConfig(min_face=min_face, thresholds=thresholds))
    click.echo(f"detecting faces in {len(images)} images" + (f" on {workers} workers" if workers > 1 else "") + " ...",
               err=True)
    detected = list(detect_images(spec, images, top, workers=workers, backend=backend))
    fig = recall_figures(detected, iou)
    fig["max_images"] = max_images
    click.echo(f"{fig['images']} images, {fig['faces']} faces with min(w,h) >= {min_side:g}: "
               f"recall {fig['recall']:.1%} ({fig['matched']} found at IoU >= {iou:g}), "
               f"{fig['detections']} detections ({fig['detections_per_image']:.1f} per image)")
    if truth is not None:
        from ..tools.wider_eval import report_lines, score_detections

        report = score_detections(as_submission(detected), truth, iou)
        for line in report_lines(report):
            click.echo(line)
        fig["wider_ap"] = report
        fig["ap"] = report["ap"]
    return fig


def _load_truth(gt_dir):
    """The ground truth, read before the detector runs so that a bad --gt-dir fails at once."""
    if not gt_dir:
        return None
    from ..io.wider_eval import load_ground_truth

    return load_ground_truth(gt_dir)


def _write_outputs(fig: dict, png_out, json_out) -> None:
    from ..io.files import atomic_write_json

    if png_out:
        from ..tools.wider_eval import draw_pr_curves

        draw_pr_curves(fig.get("wider_ap", fig), png_out)
    if json_out:
        atomic_write_json(json_out, fig)
