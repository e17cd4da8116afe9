"""moreh_smclient: the SDAManager admin shell (an open re-implementation)."""

# The project's one version: pyproject.toml reads it (dynamic), the simulator imports it,
# and tests/test_deploy_manifests.py checks the image tag, the manifests and the README against it.
__version__ = "0.1.0"
