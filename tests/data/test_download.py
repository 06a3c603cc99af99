"""download_file: checksums, atomic rename, no leftovers, progress without tqdm."""
import hashlib
import io
import sys
import urllib.error

import pytest

from deeprecipe.data import ChecksumError, download_file
from deeprecipe.data import download as download_module

PAYLOAD = bytes(range(256)) * 1000  # 256 kB, several chunks


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    return src


def test_checksums_ok(tmp_path, source):
    dest = tmp_path / "out" / "blob.bin"
    got = download_file(source.as_uri(), dest, md5=hashlib.md5(PAYLOAD).hexdigest(),
                        sha256=hashlib.sha256(PAYLOAD).hexdigest().upper(), progress=False)
    assert got == dest
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in dest.parent.iterdir()] == ["blob.bin"]  # no temporary left


@pytest.mark.parametrize("kind", ["md5", "sha256"])
def test_checksum_mismatch_leaves_nothing(tmp_path, source, kind):
    dest = tmp_path / "out" / "blob.bin"
    wrong = {kind: hashlib.new(kind, b"something else").hexdigest()}
    with pytest.raises(ChecksumError, match=f"checksum mismatch.*{kind}"):
        download_file(source.as_uri(), dest, progress=False, **wrong)
    assert list(dest.parent.iterdir()) == []
    assert isinstance(ChecksumError("x"), ValueError)


def test_mismatch_keeps_existing_file(tmp_path, source):
    # A failed download must not clobber what was there.
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"old")
    with pytest.raises(ChecksumError):
        download_file(source.as_uri(), dest, md5="0" * 32, progress=False)
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unreachable_url_raises_urlerror(tmp_path):
    with pytest.raises(urllib.error.URLError):
        download_file((tmp_path / "missing.bin").as_uri(), tmp_path / "x.bin", progress=False)
    assert not (tmp_path / "x.bin").exists()


class _FakeResponse(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_progress_lines_without_tqdm(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    seen = []

    def fake_urlopen(url, timeout=None):
        seen.append(url)
        return _FakeResponse(PAYLOAD)

    monkeypatch.setattr(download_module, "urlopen", fake_urlopen)
    download_file("http://example.invalid/blob.bin", tmp_path / "blob.bin",
                  md5=hashlib.md5(PAYLOAD).hexdigest(), progress=True)
    assert seen == ["http://example.invalid/blob.bin"]
    err = capsys.readouterr().err
    assert "downloading blob.bin" in err
    assert "blob.bin: 100%" in err
    assert err.count("%") >= 3   # intermediate progress lines, not just the last
    assert (tmp_path / "blob.bin").read_bytes() == PAYLOAD
