"""Repos, refs, history, listings and the repo-info fields clients read."""
import datetime
import uuid

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile, RepoFolder

from conftest import ME


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_create_repo_types_private_exist_ok(api, repo_type):
    repo = f"{ME}/{repo_type}-{uuid.uuid4().hex[:8]}"
    kwargs = {"space_sdk": "static"} if repo_type == "space" else {}
    url = api.create_repo(repo, repo_type=repo_type, private=True, **kwargs)
    assert url.repo_id == repo and url.repo_type == repo_type
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    assert url == f"{api.endpoint}/{prefix}{repo}"
    info = api.repo_info(repo, repo_type=repo_type)
    assert info.id == repo and info.private is True
    assert info.sha and len(info.sha) == 40
    # exist_ok: the same url again; without it, a 409.
    assert api.create_repo(repo, repo_type=repo_type, exist_ok=True, **kwargs) == url
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo(repo, repo_type=repo_type, **kwargs)
    assert e.value.response.status_code == 409
    # Visibility can be switched; the repo shows in the author's listing.
    api.update_repo_settings(repo, repo_type=repo_type, private=False)
    assert api.repo_info(repo, repo_type=repo_type).private is False
    listing = {"model": api.list_models, "dataset": api.list_datasets, "space": api.list_spaces}
    assert repo in [r.id for r in listing[repo_type](author=ME)]
    api.delete_repo(repo, repo_type=repo_type)
    assert not api.repo_exists(repo, repo_type=repo_type)


def test_model_info_fields(api, model_repo):
    c1 = api.upload_file(path_or_fileobj=b"cfg\n", path_in_repo="config.json", repo_id=model_repo)
    c2 = api.upload_file(path_or_fileobj=bytes(range(256)) * 4000, path_in_repo="w/model.bin",
                         repo_id=model_repo)
    info = api.model_info(model_repo, files_metadata=True)
    assert info.id == model_repo and info.private is False
    assert info.sha == c2.oid != c1.oid
    assert isinstance(info.last_modified, datetime.datetime)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - info.last_modified).total_seconds()) < 600
    sib = {s.rfilename: s for s in info.siblings}
    assert set(sib) == {".gitattributes", "config.json", "w/model.bin"}
    assert sib["config.json"].size == 4 and sib["config.json"].lfs is None
    assert sib["w/model.bin"].size == 1_024_000 and sib["w/model.bin"].lfs.size == 1_024_000
    # At an older revision: that commit's files.
    old = api.model_info(model_repo, revision=c1.oid)
    assert old.sha == c1.oid
    assert {s.rfilename for s in old.siblings} == {".gitattributes", "config.json"}
    with pytest.raises(RevisionNotFoundError):
        api.model_info(model_repo, revision="no-such-branch")


def test_branches_and_tags(api, model_repo):
    first = api.upload_file(path_or_fileobj=b"1", path_in_repo="f.txt", repo_id=model_repo).oid
    api.create_branch(model_repo, branch="feature/x", revision=first)
    api.create_branch(model_repo, branch="dev")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(model_repo, branch="dev")
    assert e.value.response.status_code == 409
    api.create_branch(model_repo, branch="dev", exist_ok=True)
    api.upload_file(path_or_fileobj=b"2", path_in_repo="f.txt", repo_id=model_repo,
                    revision="feature/x", commit_message="on the branch")
    api.create_tag(model_repo, tag="v1.0", revision=first, tag_message="first")
    api.create_tag(model_repo, tag="release/2", revision="feature/x")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(model_repo, tag="v1.0")
    assert e.value.response.status_code == 409
    refs = api.list_repo_refs(model_repo)
    branches = {b.name: b for b in refs.branches}
    tags = {t.name: t for t in refs.tags}
    assert set(branches) == {"main", "feature/x", "dev"}
    assert branches["feature/x"].ref == "refs/heads/feature/x"
    assert branches["dev"].target_commit == branches["main"].target_commit == first
    assert set(tags) == {"v1.0", "release/2"}
    assert tags["v1.0"].target_commit == first and tags["v1.0"].ref == "refs/tags/v1.0"
    assert tags["release/2"].target_commit == branches["feature/x"].target_commit != first
    assert refs.converts == [] and refs.pull_requests is None
    # Reads at a branch or tag with a '/' in its name.
    assert api.model_info(model_repo, revision="release/2").sha == tags["release/2"].target_commit
    assert api.list_repo_commits(model_repo, revision="feature/x")[0].title == "on the branch"
    api.delete_branch(model_repo, branch="feature/x")
    api.delete_tag(model_repo, tag="release/2")
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(model_repo, tag="release/2")
    with pytest.raises(HfHubHTTPError):
        api.delete_branch(model_repo, branch="feature/x")
    refs = api.list_repo_refs(model_repo)
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert {t.name for t in refs.tags} == {"v1.0"}


def test_list_repo_commits(api, model_repo):
    shas = [api.upload_file(path_or_fileobj=str(i).encode(), path_in_repo=f"f{i}.txt",
                            repo_id=model_repo, commit_message=f"commit {i}").oid for i in range(5)]
    commits = api.list_repo_commits(model_repo)
    assert [c.commit_id for c in commits[:5]] == shas[::-1]
    assert [c.title for c in commits[:5]] == [f"commit {i}" for i in range(4, -1, -1)]
    assert len(commits) == 6  # plus the initial commit
    assert all(isinstance(c.created_at, datetime.datetime) and c.authors for c in commits)
    older = api.list_repo_commits(model_repo, revision=shas[2])
    assert [c.commit_id for c in older] == [shas[2], shas[1], shas[0], commits[-1].commit_id]


def test_list_repo_tree_and_paths_info(api, model_repo, counters):
    # 1 100 files in one folder: the listing needs several pages (1 000 per page).
    ops = [CommitOperationAdd(f"many/f{i:04d}.txt", f"{i}\n".encode()) for i in range(1100)]
    ops += [CommitOperationAdd("top.txt", b"top\n"),
            CommitOperationAdd("a/b/c/deep.bin", bytes(1000) + b"\x01" * 100)]
    commit = api.create_commit(model_repo, operations=ops, commit_message="many files")
    top = list(api.list_repo_tree(model_repo))
    by_path = {e.path: e for e in top}
    assert set(by_path) == {".gitattributes", "top.txt", "many", "a"}
    assert isinstance(by_path["many"], RepoFolder) and isinstance(by_path["top.txt"], RepoFile)
    before = counters.snapshot()
    many = list(api.list_repo_tree(model_repo, path_in_repo="many"))
    assert len(many) == 1100 and len({e.path for e in many}) == 1100
    assert counters.requests(counters.diff(before), "hub", "tree") >= 2  # 1000 + 100, by Link
    everything = list(api.list_repo_tree(model_repo, recursive=True))
    paths = {e.path for e in everything}
    assert len(everything) == len(paths) == 1100 + 2 + 1 + 4  # files + many/ a/ a/b a/b/c
    assert {"a", "a/b", "a/b/c", "a/b/c/deep.bin", "many/f1099.txt"} <= paths
    deep = next(e for e in everything if e.path == "a/b/c/deep.bin")
    assert deep.size == 1100 and deep.lfs is not None and deep.xet_hash  # binary → LFS/Xet
    # expand: last commit and security status (pages of 50).
    expanded = list(api.list_repo_tree(model_repo, path_in_repo="a/b/c", expand=True))
    assert len(expanded) == 1
    assert expanded[0].last_commit.oid == commit.oid
    assert expanded[0].last_commit.title == "many files"
    assert expanded[0].security is not None
    many_expanded = list(api.list_repo_tree(model_repo, path_in_repo="many", expand=True))
    assert len(many_expanded) == 1100 and all(e.last_commit for e in many_expanded)
    # paths-info: files and folders, missing paths left out.
    info = api.get_paths_info(model_repo, ["top.txt", "a/b", "nope.txt", "a/b/c/deep.bin"],
                              expand=True)
    got = {e.path: e for e in info}
    assert set(got) == {"top.txt", "a/b", "a/b/c/deep.bin"}
    assert isinstance(got["a/b"], RepoFolder)
    assert got["top.txt"].size == 4 and got["top.txt"].last_commit.oid == commit.oid
    assert got["a/b/c/deep.bin"].xet_hash == deep.xet_hash
    # At a revision, and a missing folder.
    assert [e.path for e in api.list_repo_tree(model_repo, revision=commit.oid, path_in_repo="a")] == ["a/b"]
    from huggingface_hub.errors import EntryNotFoundError
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(model_repo, path_in_repo="no/such/dir"))
