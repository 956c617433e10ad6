"""Uploads and commits with the official client: hf_xet transfers (observed on
hubsim's CAS counters), commit operations, stale parents, pull requests."""
import hashlib

import pytest
from huggingface_hub import (CommitOperationAdd, CommitOperationCopy, CommitOperationDelete,
                             hf_hub_download)
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

from conftest import randbytes


def _files(api, repo, revision=None):
    return {f.rfilename: f for f in api.model_info(repo, revision=revision, files_metadata=True).siblings}


def _assert_xet_upload(counters, d, min_xorbs=1):
    """A Xet upload: xorbs and a shard reached the CAS, nothing went the LFS way."""
    xorbs = counters.requests(d, "cas", "xorb-upload")
    shards = counters.requests(d, "cas", "shard-upload")
    assert xorbs >= min_xorbs, d
    assert shards >= 1, d
    assert counters.requests(d, "hub", "lfs-put") == 0, d
    assert counters.requests(d, "hub", "lfs-batch") == 0, d  # hf_xet needs no batch negotiation
    assert counters.requests(d, "hub", "xet-token") >= 1, d
    return xorbs, shards


def test_upload_file_through_hf_xet(api, model_repo, counters, tmp_path):
    data = randbytes(3 << 20, 103)
    src = tmp_path / "weights.bin"
    src.write_bytes(data)
    before = counters.snapshot()
    info = api.upload_file(path_or_fileobj=str(src), path_in_repo="weights.bin", repo_id=model_repo)
    d = counters.diff(before)
    _assert_xet_upload(counters, d)
    assert counters.bytes_in(d, "cas", "xorb-upload") >= len(data) * 0.9, d
    assert counters.requests(d, "hub", "commit") == 1, d
    assert info.oid and len(info.oid) == 40
    f = _files(api, model_repo)["weights.bin"]
    assert f.size == len(data)
    assert f.lfs is not None and f.lfs.sha256 == hashlib.sha256(data).hexdigest()
    (entry,) = api.get_paths_info(model_repo, ["weights.bin"])
    assert entry.xet_hash is not None and len(entry.xet_hash) == 64
    # Back through hf_xet, byte-identical.
    got = hf_hub_download(model_repo, "weights.bin", token=api.token)
    assert open(got, "rb").read() == data

    # The same bytes again (another path): nothing new reaches the CAS.
    before = counters.snapshot()
    api.upload_file(path_or_fileobj=str(src), path_in_repo="copy/weights.bin", repo_id=model_repo)
    d = counters.diff(before)
    assert counters.bytes_in(d, "cas", "xorb-upload") < (64 << 10), d


def test_upload_folder_through_hf_xet(api, model_repo, counters, tmp_path):
    root = tmp_path / "folder"
    (root / "sub" / "deeper").mkdir(parents=True)
    files = {
        "README.md": b"# a model\n",
        "config.json": b'{"hidden": 64}\n',
        "sub/a.bin": randbytes(1 << 20, 104),
        "sub/deeper/b.bin": randbytes(300_000, 105),
        "sub/notes.txt": "ünïcödé text\n".encode() * 10,
        "empty.txt": b"",
    }
    for p, b in files.items():
        (root / p).write_bytes(b)
    before = counters.snapshot()
    info = api.upload_folder(folder_path=str(root), repo_id=model_repo, commit_message="folder")
    d = counters.diff(before)
    _assert_xet_upload(counters, d)
    assert counters.requests(d, "hub", "commit") == 1, d
    assert "folder" in api.list_repo_commits(model_repo)[0].title
    got = _files(api, model_repo)
    for p, b in files.items():
        assert got[p].size == len(b), p
        lfs = p.endswith(".bin")
        assert (got[p].lfs is not None) == lfs, p
        if lfs:
            assert got[p].lfs.sha256 == hashlib.sha256(b).hexdigest()
    assert info.commit_url.startswith(api.endpoint)
    assert info.oid == api.model_info(model_repo).sha
    # The same folder again: the client sees (from hubsim's oids) that nothing
    # changed, sends no data and no commit; the head stays.
    before = counters.snapshot()
    again = api.upload_folder(folder_path=str(root), repo_id=model_repo)
    d = counters.diff(before)
    assert counters.requests(d, "hub", "commit") == 0, d
    assert counters.requests(d, "cas", "xorb-upload") == 0, d
    assert again.oid == info.oid == api.model_info(model_repo).sha


def test_create_commit_add_delete_copy(api, model_repo, tmp_path):
    big = randbytes(200_000, 106)
    api.create_commit(model_repo, commit_message="seed", operations=[
        CommitOperationAdd("a.txt", b"alpha\n"),
        CommitOperationAdd("dir/x.txt", b"x\n"),
        CommitOperationAdd("dir/y.txt", b"y\n"),
        CommitOperationAdd("w/big.bin", big),
    ])
    api.create_commit(model_repo, commit_message="edit", operations=[
        CommitOperationCopy("a.txt", "copies/a.txt"),          # regular: re-sent inline
        CommitOperationCopy("w/big.bin", "copies/big.bin"),    # LFS: lfsFile by oid
        CommitOperationDelete("dir/"),                          # a folder
        CommitOperationDelete("a.txt"),                         # a file
        CommitOperationAdd("b.txt", b"beta\n"),
    ])
    files = _files(api, model_repo)
    assert set(files) == {".gitattributes", "b.txt", "copies/a.txt", "copies/big.bin", "w/big.bin"}
    assert files["copies/big.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert files["copies/big.bin"].blob_id == files["w/big.bin"].blob_id
    p = hf_hub_download(model_repo, "copies/a.txt", token=api.token, cache_dir=tmp_path / "c")
    assert open(p, "rb").read() == b"alpha\n"
    p = hf_hub_download(model_repo, "copies/big.bin", token=api.token, cache_dir=tmp_path / "c")
    assert open(p, "rb").read() == big
    # Deleting a path that is not there: the Hub's 404 EntryNotFound.
    with pytest.raises(EntryNotFoundError):
        api.create_commit(model_repo, commit_message="nope",
                          operations=[CommitOperationDelete("missing.txt")])


def test_stale_parent_commit_is_412(api, model_repo):
    first = api.upload_file(path_or_fileobj=b"1", path_in_repo="f.txt", repo_id=model_repo)
    api.upload_file(path_or_fileobj=b"2", path_in_repo="f.txt", repo_id=model_repo)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_commit(model_repo, commit_message="stale", parent_commit=first.oid,
                          operations=[CommitOperationAdd("g.txt", b"g")])
    assert e.value.response.status_code == 412
    # The current head as parent is accepted.
    head = api.model_info(model_repo).sha
    api.create_commit(model_repo, commit_message="fresh", parent_commit=head,
                      operations=[CommitOperationAdd("g.txt", b"g")])
    assert "g.txt" in _files(api, model_repo)


def test_create_pr_and_later_commits_to_it(api, model_repo, counters, tmp_path):
    api.upload_file(path_or_fileobj=b"main\n", path_in_repo="m.txt", repo_id=model_repo)
    main_sha = api.model_info(model_repo).sha
    pr_data = b"\0" + randbytes(300_000, 110)
    before = counters.snapshot()
    pr = api.create_commit(model_repo, commit_message="proposal", create_pr=True,
                           operations=[CommitOperationAdd("p.txt", b"pr\n"),
                                       CommitOperationAdd("p.bin", pr_data)])
    # The Xet upload for a PR that does not exist yet (a write token for "None").
    _assert_xet_upload(counters, counters.diff(before))
    assert pr.pr_url and pr.pr_num is not None
    assert pr.pr_revision == f"refs/pr/{pr.pr_num}"
    # main did not move; the PR ref holds the new file.
    assert api.model_info(model_repo).sha == main_sha
    assert {"p.txt", "p.bin"} <= set(_files(api, model_repo, revision=pr.pr_revision))
    got = hf_hub_download(model_repo, "p.bin", revision=pr.pr_revision, token=api.token,
                          cache_dir=tmp_path / "c")
    assert open(got, "rb").read() == pr_data
    assert "p.txt" not in _files(api, model_repo)
    # A later commit to refs/pr/N, with an hf_xet upload.
    data = randbytes(1 << 20, 107)
    before = counters.snapshot()
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=model_repo,
                    revision=pr.pr_revision)
    d = counters.diff(before)
    _assert_xet_upload(counters, d)
    files = _files(api, model_repo, revision=pr.pr_revision)
    assert {"p.txt", "p.bin", "w.bin", "m.txt"} <= set(files)
    assert "w.bin" not in _files(api, model_repo)
    refs = api.list_repo_refs(model_repo, include_pull_requests=True)
    assert [r.ref for r in refs.pull_requests] == [pr.pr_revision]
    # upload_folder(create_pr=True) opens the PR first, then commits to it.
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "q.txt").write_bytes(b"q\n")
    info = api.upload_folder(folder_path=str(tmp_path / "up"), repo_id=model_repo, create_pr=True)
    assert info.pr_num is not None and info.pr_num != pr.pr_num
    assert "q.txt" in _files(api, model_repo, revision=info.pr_revision)


def test_same_file_into_two_repos(api, repo_name, counters, tmp_path):
    """LFS objects belong to repos: the second repo's upload still sends a shard
    (so the file becomes that repo's), while the CAS dedups its chunks."""
    a, b = repo_name + "-a", repo_name + "-b"
    api.create_repo(a)
    api.create_repo(b)
    data = b"\0" + randbytes(2 << 20, 108)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=a)
    before = counters.snapshot()
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=b)
    d = counters.diff(before)
    assert counters.requests(d, "cas", "shard-upload") >= 1, d
    assert counters.bytes_in(d, "cas", "xorb-upload") < (64 << 10), d
    p = hf_hub_download(b, "w.bin", token=api.token, cache_dir=tmp_path / "c")
    assert open(p, "rb").read() == data


def test_cross_repo_copy(api, repo_name, hub_url, tmp_path):
    """CommitOperationCopy from another repo: the client asks the source repo to
    duplicate its LFS objects into the target (lfs-files/duplicate), then commits
    them by oid; regular files are re-sent inline."""
    from huggingface_hub import HfApi
    from conftest import EVE_TOKEN
    src, dst = repo_name + "-src", repo_name + "-dst"
    api.create_repo(src)
    api.create_repo(dst)
    data = b"\0" + randbytes(500_000, 109)
    api.create_commit(src, commit_message="src", operations=[
        CommitOperationAdd("w.bin", data), CommitOperationAdd("r.txt", b"regular\n")])
    api.create_commit(dst, commit_message="copy", operations=[
        CommitOperationCopy("w.bin", "from-src/w.bin", src_repo_id=src, src_repo_type="model"),
        CommitOperationCopy("r.txt", "from-src/r.txt", src_repo_id=src, src_repo_type="model"),
    ])
    files = _files(api, dst)
    assert files["from-src/w.bin"].lfs.sha256 == hashlib.sha256(data).hexdigest()
    for p, want in (("from-src/w.bin", data), ("from-src/r.txt", b"regular\n")):
        got = hf_hub_download(dst, p, token=api.token, cache_dir=tmp_path / "c")
        assert open(got, "rb").read() == want, p
    # Another user may copy from the public source into a repo of her own, not
    # into one she cannot write to.
    eve = HfApi(endpoint=hub_url, token=EVE_TOKEN)
    eve_repo = "eve/" + repo_name.split("/")[1] + "-eve"
    eve.create_repo(eve_repo)
    eve.create_commit(eve_repo, commit_message="mine", operations=[
        CommitOperationCopy("w.bin", "w.bin", src_repo_id=src, src_repo_type="model")])
    assert _files(eve, eve_repo)["w.bin"].lfs.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(HfHubHTTPError) as e:
        eve.create_commit(dst, commit_message="no", operations=[
            CommitOperationCopy("w.bin", "x.bin", src_repo_id=src, src_repo_type="model")])
    assert e.value.response.status_code == 403
