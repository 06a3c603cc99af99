"""Fixtures for the data tests: no network, no real user cache, no real $DEEPRECIPE_DATA."""
import urllib.error

import pytest

from deeprecipe.data import download as download_module


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path_factory, monkeypatch):
    """Point HOME and the cache at a temp dir, unset DEEPRECIPE_DATA, and refuse any URL
    that is not file:// so that no test can touch the network."""
    home = tmp_path_factory.mktemp("home")  # outside tmp_path, which tests may list
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("DEEPRECIPE_DATA", raising=False)
    real_urlopen = download_module.urlopen

    def local_only(url, *args, **kwargs):
        if not str(url).startswith("file:"):
            raise urllib.error.URLError(f"network disabled in tests ({url})")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(download_module, "urlopen", local_only)
    return home


@pytest.fixture
def no_system_data(tmp_path, monkeypatch):
    """Replace the system dataset folders (e.g. /usr/share/datasets) by an empty temp dir."""
    from deeprecipe.data import datasets
    system = tmp_path / "system"
    system.mkdir()
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", (str(system),))
    return system
