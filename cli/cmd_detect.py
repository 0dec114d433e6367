"""``mtcnn-data detect``: run the cascade on images (torch is imported only when it runs)."""

from __future__ import annotations

import json
import os

import click

from .options import pop_backend, device_option, parse_thresholds, worker_options


@click.command("detect")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--pnet", required=True, help="P-Net checkpoint (state_dict, torch.export .pt2, TorchScript) or 'facenet'.")
@click.option("--rnet", help="R-Net checkpoint or 'facenet'; without it the cascade stops after P-Net.")
@click.option("--onet", help="O-Net checkpoint or 'facenet' (needs --rnet); gives landmarks.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the faces as JSON here ('-' for stdout, the default without --png or --wider-txt).")
@click.option("--png", "png_dir", type=click.Path(file_okay=False), help="Write each image with its faces drawn into this folder.")
@click.option("--wider-txt", "wider_txt", type=click.Path(file_okay=False),
              help="Also write the faces in the WIDER FACE submission format: DIR/<event>/<image>.txt "
                   "(the image's folder is the event), for `mtcnn-data evaluate --detections DIR`.")
@click.option("--min-face", type=float, default=20.0, show_default=True, help="Smallest face side searched, pixels.")
@click.option("--factor", type=float, default=0.709, show_default=True, help="Pyramid scale step.")
@click.option("--thresholds", default="0.6,0.7,0.7", show_default=True, callback=parse_thresholds, help="Face-probability floors P,R,O.")
@click.option("--channel-order", type=click.Choice(["RGB", "BGR"]), default="RGB", show_default=True, help="Channel order the networks expect.")
@device_option()
@click.option("--threads", type=click.IntRange(1),
              help="torch.set_num_threads of each process (default: torch's choice; 1 per worker with --workers > 1).")
@worker_options
def detect(images, pnet, rnet, onet, json_path, png_dir, wider_txt, min_face, factor, thresholds, channel_order, device,
           threads, **workers):
    """Detect faces in IMAGE... with the cascade as far as the stages given.

    Boxes are x1,y1,x2,y2 (exclusive x2,y2); landmarks are left eye, right eye,
    nose, left and right mouth corner. With --workers N the images are shared out
    among N processes (or a Dask / Ray cluster), the output in the same order.
    """
    from ..detect.detector import DetectorConfig
    from ..tools.detecting import DetectorSpec, detect_files

    config = DetectorConfig(min_face=min_face, factor=factor, thresholds=thresholds, channel_order=channel_order,
                            device=device, num_threads=threads)
    backend = pop_backend(workers)
    results = detect_files(images, DetectorSpec(pnet, rnet, onet, config), png_dir=png_dir, wider_txt=wider_txt,
                           workers=workers["workers"], backend=backend)
    if json_path in (None, "-"):
        if json_path == "-" or (png_dir is None and wider_txt is None):
            click.echo(json.dumps(results, indent=1))
    else:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    faces = sum(len(r["faces"]) for r in results)
    click.echo(f"{faces} face(s) in {len(results)} image(s)", err=True)
    for flag, folder in (("--png", png_dir), ("--wider-txt", wider_txt)):
        if folder is not None:
            click.echo(f"{flag}: wrote {len(results)} file(s) under {os.path.abspath(folder)}", err=True)
