"""IDX reader/writer: round trips, gzip detection by content, and clear errors."""
import gzip
import struct

import numpy as np
import pytest

from deeprecipe.data import read_idx, read_idx_header, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)])
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path, dtype, shape, gz):
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind == "f":
        a = rng.standard_normal(shape).astype(dtype) * 1e3
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == shape
    np.testing.assert_array_equal(a, b)
    assert b.flags.writeable
    assert read_idx_header(path) == (np.dtype(dtype), shape)


def test_header_is_big_endian_idx(tmp_path):
    # The exact bytes of the format: magic 00 00 0C 02, dims big-endian, values big-endian.
    path = tmp_path / "x.idx"
    write_idx(path, np.array([[1, 2, 3], [4, 5, 256]], dtype=np.int32))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 2])
    assert struct.unpack(">II", raw[4:12]) == (2, 3)
    assert struct.unpack(">6i", raw[12:]) == (1, 2, 3, 4, 5, 256)


def test_gzip_detected_by_content_not_name(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    plain_named_gz = tmp_path / "plain.gz"
    write_idx(plain_named_gz, a, compress=False)
    gz_named_plain = tmp_path / "zipped.idx"
    write_idx(gz_named_plain, a, compress=True)
    np.testing.assert_array_equal(read_idx(plain_named_gz), a)
    np.testing.assert_array_equal(read_idx(gz_named_plain), a)


def _plain(tmp_path, name="f.idx"):
    path = tmp_path / name
    write_idx(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4), compress=False)
    return path


def test_truncated_payload(tmp_path):
    path = _plain(tmp_path, "trunc.idx")
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"trunc\.idx.*truncated.*24.*19"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = _plain(tmp_path, "head.idx")
    path.write_bytes(path.read_bytes()[:9])   # magic + 1 of 3 dimension sizes
    with pytest.raises(ValueError, match=r"head\.idx.*truncated.*dimension"):
        read_idx(path)
    with pytest.raises(ValueError, match=r"head\.idx"):
        read_idx_header(path)


def test_payload_too_long(tmp_path):
    path = _plain(tmp_path, "long.idx")
    path.write_bytes(path.read_bytes() + b"\x00\x01\x02")
    with pytest.raises(ValueError, match=r"long\.idx.*longer.*3 extra"):
        read_idx(path)


def test_wrong_magic(tmp_path):
    path = tmp_path / "magic.idx"
    path.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab")
    with pytest.raises(ValueError, match=r"magic\.idx.*not an IDX file"):
        read_idx(path)


def test_unknown_dtype_code(tmp_path):
    path = tmp_path / "code.idx"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"ab")
    with pytest.raises(ValueError, match=r"code\.idx.*data type code 0x07"):
        read_idx(path)


def test_zero_dimensions(tmp_path):
    path = tmp_path / "nd.idx"
    path.write_bytes(b"\x00\x00\x08\x00")
    with pytest.raises(ValueError, match=r"nd\.idx.*0 dimensions"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.idx.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 255, (50, 28, 28), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.idx\.gz"):
        read_idx(path)


def test_corrupt_gzip_crc(tmp_path):
    # A valid gzip stream whose CRC trailer is wrong must not pass silently.
    path = tmp_path / "crc.idx.gz"
    write_idx(path, np.arange(100, dtype=np.uint8))
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"crc\.idx\.gz.*gzip"):
        read_idx(path)


def test_gzip_payload_too_long(tmp_path):
    path = tmp_path / "longz.idx.gz"
    header = b"\x00\x00\x08\x01" + struct.pack(">I", 4)
    path.write_bytes(gzip.compress(header + b"abcdEF"))
    with pytest.raises(ValueError, match=r"longz\.idx\.gz.*2 extra"):
        read_idx(path)


def test_write_rejects_unsupported(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "b.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "s.idx", np.float32(1.0))
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind
