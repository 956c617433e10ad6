"""Downloads with and without hf_xet, the cache layout they leave, HfFileSystem,
and the exception classes clients branch on."""
import hashlib
import json
import os
import subprocess
import sys

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, HfFileSystem, hf_hub_download, snapshot_download
from huggingface_hub import constants
from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError,
                                    RevisionNotFoundError)

from conftest import EVE_TOKEN, ME_TOKEN, randbytes

FILES = {
    "config.json": b'{"a": 1}\n',
    "sub/readme.txt": b"hello, world\n" * 100,
    "sub/deep/weights.bin": b"\0" + randbytes(2 << 20, 101),  # binary: LFS/Xet
    "tokenizer.model": bytes(range(256)) * 64,
}


@pytest.fixture(scope="module")
def filled_repo(api):
    import uuid
    repo = f"me/dl-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo)
    commit = api.create_commit(repo, commit_message="files",
                               operations=[CommitOperationAdd(p, b) for p, b in FILES.items()])
    return repo, commit.oid


def _repo_dir(cache, repo):
    return cache / ("models--" + repo.replace("/", "--"))


def _check_cache_layout(cache, repo, sha, paths, xet):
    rd = _repo_dir(cache, repo)
    assert (rd / "refs" / "main").read_text() == sha  # no trailing newline
    for p in paths:
        snap = rd / "snapshots" / sha / p
        assert snap.is_symlink(), p
        target = os.readlink(snap)
        assert not os.path.isabs(target)  # relative: ../../blobs/<etag>, one more ../ per level
        assert target.startswith("../" * (2 + p.count("/")) + "blobs/"), target
        etag = os.path.basename(target)
        blob = rd / "blobs" / etag
        data = FILES[p]
        if len(data) >= 10 << 20 or b"\0" in data[:512]:  # LFS/Xet: sha256 etag
            assert etag == hashlib.sha256(data).hexdigest(), p
        else:  # regular: git blob id
            assert etag == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), p
        assert blob.exists() and blob.read_bytes() == data, p
        if xet and etag == hashlib.sha256(data).hexdigest() and blob.is_symlink():
            # The shared Xet blob store: <cache>/blobs/<hh>/<xet hash>.
            shared = os.path.realpath(blob)
            assert os.path.dirname(os.path.dirname(shared)) == str(cache / "blobs"), shared
        assert snap.read_bytes() == data


def test_hf_hub_download_through_xet(api, filled_repo, hf_home, counters):
    repo, sha = filled_repo
    cache = hf_home / "hub"
    before = counters.snapshot()
    for p in FILES:
        got = hf_hub_download(repo, p, token=ME_TOKEN)
        assert open(got, "rb").read() == FILES[p], p
    d = counters.diff(before)
    assert counters.requests(d, "cas", "reconstruction") >= 2, d  # weights.bin, tokenizer.model
    assert counters.requests(d, "hub", "xet-token") >= 1, d
    assert counters.bytes_out(d, "data") >= len(FILES["sub/deep/weights.bin"]) * 0.9, d
    # Xet terms from the xorbs, not whole plain files from the data origin.
    assert counters.requests(d, "data", "xorb-data") >= 2, d
    assert counters.requests(d, "data", "file-data") == 0, d
    _check_cache_layout(cache, repo, sha, list(FILES), xet=True)
    # A second call is served from the cache: no data, no CAS.
    before = counters.snapshot()
    hf_hub_download(repo, "sub/deep/weights.bin", token=ME_TOKEN, revision=sha)
    d = counters.diff(before)
    assert "data" not in d and "cas" not in d, d


def test_snapshot_download_with_and_without_xet(api, filled_repo, hf_home, counters, monkeypatch):
    repo, sha = filled_repo
    cache = hf_home / "hub"
    before = counters.snapshot()
    path = snapshot_download(repo, token=ME_TOKEN)
    d = counters.diff(before)
    assert os.path.basename(path) == sha
    for p, b in FILES.items():
        assert open(os.path.join(path, p), "rb").read() == b, p
    assert counters.requests(d, "cas", "reconstruction") >= 2, d
    _check_cache_layout(cache, repo, sha, list(FILES), xet=True)
    tree = json.loads((_repo_dir(cache, repo) / "trees" / f"{sha}.json").read_text())
    w = tree["files"]["sub/deep/weights.bin"]
    assert w["size"] == len(FILES["sub/deep/weights.bin"]) and len(w["xet_hash"]) == 64, w

    # HF_HUB_DISABLE_XET=1: the same files through plain resolve (redirects to
    # the data origin's whole-file URLs), nothing from the CAS.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    other = hf_home / "plain"
    before = counters.snapshot()
    path = snapshot_download(repo, token=ME_TOKEN, cache_dir=other)
    d = counters.diff(before)
    for p, b in FILES.items():
        assert open(os.path.join(path, p), "rb").read() == b, p
    assert "cas" not in d, d
    assert counters.requests(d, "hub", "resolve") >= len(FILES), d
    assert counters.requests(d, "data", "file-data") >= 2, d  # the two LFS files
    assert counters.requests(d, "data", "xorb-data") == 0, d
    assert counters.bytes_out(d, "data") >= len(FILES["sub/deep/weights.bin"]), d
    _check_cache_layout(other, repo, sha, list(FILES), xet=False)
    # allow_patterns and a revision by branch name.
    only = snapshot_download(repo, token=ME_TOKEN, cache_dir=hf_home / "only",
                             allow_patterns=["sub/*.txt"])
    assert sorted(os.listdir(only)) == ["sub"]
    assert os.listdir(os.path.join(only, "sub")) == ["readme.txt"]


def test_hf_hub_download_plain_resolve(api, filled_repo, hf_home, counters):
    """HF_HUB_DISABLE_XET=1 as users set it: in the environment of a new process."""
    repo, sha = filled_repo
    env = dict(os.environ, HF_HUB_DISABLE_XET="1", HF_HOME=str(hf_home / "env"))
    code = ("import sys; from huggingface_hub import hf_hub_download, constants; "
            "assert constants.HF_HUB_DISABLE_XET; "
            "print(hf_hub_download(sys.argv[1], 'sub/deep/weights.bin', token=sys.argv[2]))")
    before = counters.snapshot()
    out = subprocess.run([sys.executable, "-c", code, repo, ME_TOKEN], env=env, check=True,
                         capture_output=True, text=True, timeout=120)
    d = counters.diff(before)
    got = out.stdout.strip().splitlines()[-1]
    assert got.startswith(str(hf_home / "env" / "hub"))
    assert open(got, "rb").read() == FILES["sub/deep/weights.bin"]
    assert "cas" not in d, d
    assert counters.requests(d, "data", "file-data") == 1, d
    assert counters.bytes_out(d, "data") >= len(FILES["sub/deep/weights.bin"]), d


def test_missing_entry_marks_no_exist(api, filled_repo, hf_home):
    repo, sha = filled_repo
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "no/such/file.txt", token=ME_TOKEN)
    # The 404 carried X-Repo-Commit: the client remembers the miss.
    assert (_repo_dir(hf_home / "hub", repo) / ".no_exist" / sha / "no" / "such" / "file.txt").exists()


def test_hf_file_system(api, filled_repo, counters):
    repo, sha = filled_repo
    fs = HfFileSystem(endpoint=api.endpoint, token=ME_TOKEN, skip_instance_cache=True)
    top = fs.ls(repo, detail=True)
    names = {os.path.basename(e["name"]): e for e in top}
    assert set(names) == {".gitattributes", "config.json", "sub", "tokenizer.model"}
    assert names["sub"]["type"] == "directory" and names["config.json"]["type"] == "file"
    assert names["config.json"]["size"] == len(FILES["config.json"])
    info = fs.info(f"{repo}/sub/deep/weights.bin")
    assert info["type"] == "file" and info["size"] == len(FILES["sub/deep/weights.bin"])
    assert info["lfs"]["sha256"] == hashlib.sha256(FILES["sub/deep/weights.bin"]).hexdigest()
    assert fs.info(repo)["type"] == "directory"
    assert sorted(fs.glob(f"{repo}/**/*.txt")) == [f"{repo}/sub/readme.txt"]
    assert sorted(fs.glob(f"{repo}/sub/*")) == [f"{repo}/sub/deep", f"{repo}/sub/readme.txt"]
    assert fs.exists(f"{repo}/tokenizer.model") and not fs.exists(f"{repo}/nope")
    # open + seek + ranged read.
    data = FILES["sub/deep/weights.bin"]
    with fs.open(f"{repo}/sub/deep/weights.bin", "rb", block_size=64 << 10) as f:
        f.seek(1_000_000)
        assert f.read(5000) == data[1_000_000:1_005_000]
        f.seek(-100, 2)
        assert f.read() == data[-100:]
        f.seek(10)
        assert f.read(10) == data[10:20]
    assert fs.cat_file(f"{repo}/sub/readme.txt", start=5, end=20) == FILES["sub/readme.txt"][5:20]
    # @rev paths: a commit sha, a branch with '/', and refs/pr/N.
    api.create_branch(repo, branch="fs/branch", exist_ok=True)
    api.upload_file(path_or_fileobj=b"branch only\n", path_in_repo="b.txt", repo_id=repo,
                    revision="fs/branch")
    pr = api.create_commit(repo, create_pr=True, commit_message="pr",
                           operations=[CommitOperationAdd("pr.txt", b"in the pr\n")])
    fs = HfFileSystem(endpoint=api.endpoint, token=ME_TOKEN, skip_instance_cache=True)
    assert fs.cat_file(f"{repo}@{sha}/config.json") == FILES["config.json"]
    assert fs.cat_file(f"{repo}@fs%2Fbranch/b.txt") == b"branch only\n"
    assert not fs.exists(f"{repo}/b.txt")
    assert fs.cat_file(f"{repo}@{pr.pr_revision}/pr.txt") == b"in the pr\n"
    assert f"{repo}@{pr.pr_revision}/pr.txt" in fs.ls(f"{repo}@{pr.pr_revision}", detail=False)
    with pytest.raises(FileNotFoundError):
        fs.info(f"{repo}@no-such-rev/config.json")


def test_exception_classes(api, hub_url):
    import uuid
    private = f"me/private-{uuid.uuid4().hex[:8]}"
    api.create_repo(private, private=True)
    api.upload_file(path_or_fileobj=b"secret\n", path_in_repo="s.txt", repo_id=private)
    anon = HfApi(endpoint=hub_url, token=False)
    eve = HfApi(endpoint=hub_url, token=EVE_TOKEN)
    bad = HfApi(endpoint=hub_url, token="hf_not_a_known_token")
    # Missing repo: RepositoryNotFoundError, 401 anonymous and 404 authenticated.
    for client, status in ((anon, 401), (eve, 404), (api, 404)):
        with pytest.raises(RepositoryNotFoundError) as e:
            client.model_info("me/does-not-exist")
        assert e.value.response.status_code == status
    # Private repo: the same answers as a missing one, for anyone but its owner.
    for client, status in ((anon, 401), (eve, 404)):
        with pytest.raises(RepositoryNotFoundError) as e:
            client.model_info(private)
        assert e.value.response.status_code == status
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(private, "s.txt", token=client.token or False,
                            cache_dir=os.environ["HF_HOME"] + "/exc")
    assert api.model_info(private).private is True
    # An unknown token: 401, not a repo-not-found (it is not about the repo).
    with pytest.raises(HfHubHTTPError) as e:
        bad.model_info(private)
    assert e.value.response.status_code == 401
    assert not isinstance(e.value, RepositoryNotFoundError)
    # A write without write access to someone else's public repo: 403.
    public = f"me/public-{uuid.uuid4().hex[:8]}"
    api.create_repo(public)
    with pytest.raises(HfHubHTTPError) as e:
        eve.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public)
    assert e.value.response.status_code == 403
    assert eve.model_info(public).id == public
    # Revision and entry errors.
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_tree(private, revision="nope").__next__()
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(private, "s.txt", revision="nope", token=ME_TOKEN,
                        cache_dir=os.environ["HF_HOME"] + "/exc")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(private, "nope.txt", token=ME_TOKEN, cache_dir=os.environ["HF_HOME"] + "/exc")
    assert issubclass(RevisionNotFoundError, HfHubHTTPError)


def test_metadata_helpers_and_fs_writes(api, model_repo, tmp_path):
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    data = b"\0" + randbytes(100_000, 102)
    api.upload_file(path_or_fileobj=data, path_in_repo="d/w.bin", repo_id=model_repo)
    api.upload_file(path_or_fileobj=b"text\n", path_in_repo="d/t.txt", repo_id=model_repo)
    sha = api.model_info(model_repo).sha
    assert api.file_exists(model_repo, "d/w.bin") and not api.file_exists(model_repo, "d/nope")
    assert api.revision_exists(model_repo, sha) and not api.revision_exists(model_repo, "nope")
    assert sorted(api.list_repo_files(model_repo)) == [".gitattributes", "d/t.txt", "d/w.bin"]
    meta = get_hf_file_metadata(hf_hub_url(model_repo, "d/w.bin"), token=ME_TOKEN)
    assert meta.commit_hash == sha and meta.size == len(data)
    assert meta.etag == hashlib.sha256(data).hexdigest()
    assert meta.xet_file_data is not None and len(meta.xet_file_data.file_hash) == 64
    meta = get_hf_file_metadata(hf_hub_url(model_repo, "d/t.txt"), token=ME_TOKEN)
    assert meta.etag == hashlib.sha1(b"blob 5\0text\n").hexdigest() and meta.xet_file_data is None
    # HfFileSystem writes: one commit per file; cp of an LFS file by oid; rm; mv.
    fs = HfFileSystem(endpoint=api.endpoint, token=ME_TOKEN, skip_instance_cache=True)
    with fs.open(f"{model_repo}/new/written.txt", "wb") as f:
        f.write(b"written through fsspec\n")
    fs.cp_file(f"{model_repo}/d/w.bin", f"{model_repo}/new/w-copy.bin")
    fs.mv(f"{model_repo}/d/t.txt", f"{model_repo}/new/t-moved.txt")
    fs.rm(f"{model_repo}/d/w.bin")
    assert sorted(api.list_repo_files(model_repo)) == [
        ".gitattributes", "new/t-moved.txt", "new/w-copy.bin", "new/written.txt"]
    p = hf_hub_download(model_repo, "new/w-copy.bin", token=ME_TOKEN, cache_dir=tmp_path / "c")
    assert open(p, "rb").read() == data
    api.delete_folder("new", repo_id=model_repo)
    assert api.list_repo_files(model_repo) == [".gitattributes"]
