"""The package itself."""

from importlib.metadata import version

import esqa


def test_version_is_exposed_and_matches_the_installed_distribution():
    assert isinstance(esqa.__version__, str)
    assert esqa.__version__ == version("esqa")
