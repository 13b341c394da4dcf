import hashlib
import io
import os

import pytest

from pipelines.core.errors import ConfigurationError, PipelinesError
from pipelines.core.object_store import ObjectNotFoundError
from pipelines.core.resources import ObjectStoreResource


def test_put_get_list_exists_delete(object_store):
    object_store.put_bytes("a/one.json", b'{"x": 1}')
    object_store.put_bytes("a/two.json", b"22")
    object_store.put_bytes("b/three.json", b"333")
    assert [(o.key, o.size) for o in object_store.list("a/")] == [("a/one.json", 8), ("a/two.json", 2)]
    assert [o.key for o in object_store.list()] == ["a/one.json", "a/two.json", "b/three.json"]
    assert object_store.get_bytes("a/one.json") == b'{"x": 1}'
    assert object_store.exists("b/three.json") and not object_store.exists("b/none.json")
    assert object_store.size("b/three.json") == 3
    object_store.delete("a/one.json")
    object_store.delete("a/one.json")  # deleting twice is not an error
    assert [o.key for o in object_store.list("a/")] == ["a/two.json"]


def test_move_copies_then_removes(object_store):
    object_store.put_bytes("inbox/m.json", b"m")
    object_store.move("inbox/m.json", "done/m.json")
    assert not object_store.exists("inbox/m.json")
    assert object_store.get_bytes("done/m.json") == b"m"


def test_large_objects_stream_both_ways(object_store):
    chunk = os.urandom(1024 * 1024)
    digest = hashlib.sha256()
    with object_store.open_write("big/blob.bin") as out:
        for i in range(20):  # 20 MiB: past the in-memory spool and S3's multipart threshold
            piece = bytes([i]) + chunk[1:]
            digest.update(piece)
            out.write(piece)
    assert object_store.size("big/blob.bin") == 20 * 1024 * 1024
    read_digest = hashlib.sha256()
    with object_store.open_read("big/blob.bin") as src:
        while piece := src.read(256 * 1024):
            read_digest.update(piece)
    assert read_digest.hexdigest() == digest.hexdigest()


def test_read_stream_can_be_wrapped_as_text(object_store):
    object_store.put_bytes("t.csv", "a,b\r\nü,\"x\"\r\n".encode())
    with object_store.open_read("t.csv") as src:
        assert io.TextIOWrapper(src, encoding="utf-8", newline="").read() == "a,b\r\nü,\"x\"\r\n"


def test_a_failed_write_leaves_no_object(object_store):
    with pytest.raises(RuntimeError):
        with object_store.open_write("half.bin") as out:
            out.write(b"partial")
            raise RuntimeError("interrupted")
    assert not object_store.exists("half.bin")
    assert list(object_store.list()) == []


def test_missing_key_raises_not_found(object_store):
    with pytest.raises(ObjectNotFoundError, match="'nope/x.json' not found"):
        object_store.get_bytes("nope/x.json")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a\\b"])
def test_invalid_keys_are_refused(object_store, key):
    with pytest.raises(PipelinesError, match="invalid object key"):
        object_store.put_bytes(key, b"x")


def test_s3_prefix_keeps_keys_relative(moto_server, s3_bucket):
    store = ObjectStoreResource(bucket=s3_bucket, endpoint_url=moto_server, prefix="prod/").get_store()
    store.put_bytes("x/y.txt", b"1")
    assert [o.key for o in store.list("x/")] == ["x/y.txt"]
    raw = store.client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["prod/x/y.txt"]


def test_missing_bucket_names_the_setting(moto_server):
    store = ObjectStoreResource(bucket="no-such-bucket", endpoint_url=moto_server, max_attempts=1).get_store()
    with pytest.raises(ConfigurationError, match=r"^PIPELINES_S3_BUCKET: bucket 'no-such-bucket' does not exist at http://127\.0\.0\.1"):
        store.check()


def test_default_store_is_a_folder_under_pipelines_home(clean_environment):
    store = ObjectStoreResource().get_store()
    store.put_bytes("k.txt", b"v")
    assert (clean_environment / "objects" / "k.txt").read_bytes() == b"v"
