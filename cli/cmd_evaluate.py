"""``mtcnn-data evaluate``."""

from __future__ import annotations

import json

import click

from .options import parse_thresholds


@click.command("evaluate")
@click.option("--pnet", required=True, help="P-Net checkpoint or 'facenet'.")
@click.option("--rnet", help="R-Net checkpoint or 'facenet'.")
@click.option("--onet", help="O-Net checkpoint or 'facenet'.")
@click.option("--wider", type=click.Path(file_okay=False), help="WIDER FACE root.")
@click.option("--split", type=click.Choice(["train", "val"]), default="val", show_default=True)
@click.option("--wider-annotations", type=click.Path(dir_okay=False), help="Annotation file, for another layout.")
@click.option("--wider-images", type=click.Path(file_okay=False), help="Image folder, for another layout.")
@click.option("--min-side", type=float, default=20.0, show_default=True, help="Faces with min(w,h) below this are not counted.")
@click.option("--iou", type=float, default=0.5, show_default=True, help="IoU at which a detection finds a face.")
@click.option("--top", type=click.IntRange(0), default=0, show_default=True,
              help="Keep only each image's TOP best-scoring detections (0: all): recall at a fixed budget.")
@click.option("--min-face", type=float, default=20.0, show_default=True)
@click.option("--thresholds", default="0.6,0.7,0.7", show_default=True, callback=parse_thresholds)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the figures here.")
def evaluate(pnet, rnet, onet, wider, split, wider_annotations, wider_images, min_side, iou, top, min_face, thresholds, json_out):
    """Recall and detections of the cascade (as far as the stages given) on WIDER-format
    annotations: the images present on disk, faces with min(w,h) >= --min-side."""
    from ..detect.detector import Detector, DetectorConfig
    from ..io.datasets import resolve_dataset
    from ..tools.evaluate import evaluate as run
    from ..tools.evaluate import faces_to_find

    dataset = resolve_dataset("wider", wider, split, annotations=wider_annotations, images=wider_images)
    detector = Detector(pnet, rnet, onet, DetectorConfig(min_face=min_face, thresholds=thresholds))
    fig = run(detector, faces_to_find(dataset, min_side), iou, top)
    click.echo(f"{fig['images']} images, {fig['faces']} faces with min(w,h) >= {min_side:g}: "
               f"recall {fig['recall']:.1%} ({fig['matched']} found at IoU >= {iou:g}), "
               f"{fig['detections']} detections ({fig['detections_per_image']:.1f} per image)")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            json.dump(fig, f, indent=2)
