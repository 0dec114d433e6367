"""Release figures: expected counts of the official dataset releases (JSON), and run recipes.

Not run manifests (the ``manifest.json`` of a run): the folder keeps its name because
the design card asks for a top-level ``manifests/``. Read with importlib.resources.

Installed as the package ``mtcnn_data.manifests`` (setup.cfg ``package_dir``); see
docs/manifests.md. Files: ``wider_face.json``, ``lfw_net.json``, ``celeba.json``
(each named by its dataset's registry entry, ``figures``), ``recipes/*.json``.
"""
