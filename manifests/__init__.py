"""Expected figures of the official dataset releases (JSON), read with importlib.resources.

Installed as the package ``mtcnn_data.manifests`` (setup.cfg ``package_dir``); see
docs/manifests.md. Files: ``wider_face.json``, ``lfw_net.json``, ``celeba.json``.
"""
