#!/usr/bin/env python3
"""Writable branch views of --revisions and hub mounts, end to end: real FUSE
mounts of hubsim repos.

Checks (each prints "ok: ..."):
- REPO MNT --revisions --rw: files written into main/ and refs/heads/feature/
  are staged in two views (one journal each); the alias refs/heads/main/ shows
  main's staged file before any commit; `hubfs pending` and `hubfs status`
  name both branches; a tag directory and a commit-sha directory answer
  EROFS, mkdir at the root (a new branch) EROFS, a rename from main/ to
  feature/ EXDEV; `hubfs sync` lands each file on its own branch, one commit
  each on top of the branch's head;
- kill -9 of the daemon with a change pending on feature: the remount resumes
  that branch's journal and commits it; a single-branch --rw mount of
  feature from the same cache dir is refused while the first mount holds it,
  and so is a second --revisions --rw mount of the repo; a token that may not
  write the repo is refused at mount;
- unmount commits what is pending in a view (bounded wait);
- hub MNT --rw: a file written into models/me/m/main/ lands on main; a repo
  the token may not write answers EACCES (logged) and stays readable.

usage: mount_rw_views_test.py --hubfs BIN --hubsim BIN
"""
import argparse
import errno
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mount_rw_test import READER, Env, fail, ok, write  # noqa: E402


def expect_errno(code, what, fn):
    try:
        fn()
    except OSError as err:
        if err.errno != code:
            fail("%s: %s (wanted %s)" % (what, err, errno.errorcode[code]))
        return
    fail("%s succeeded (wanted %s)" % (what, errno.errorcode[code]))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def wait_for(what, cond, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def resolves_to(e, path, rev, data):
    try:
        return e.resolve(path, rev) == data
    except urllib.error.HTTPError:
        return False


def history(e, rev):
    q = urllib.request.quote(rev, safe="")
    return [c["id"] for c in e.call("GET", "/api/models/me/m/commits/%s?limit=1000" % q)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubfs", required=True)
    ap.add_argument("--hubsim", required=True)
    args = ap.parse_args()
    args.kit = ""
    args.pyenv = ""
    e = Env(args)
    try:
        run(e)
    finally:
        e.teardown()
    print("mount_rw_views_test: ok")


def mount_revisions(e, *extra):
    e.hubfs("mount", "me/m", e.mnt, "--revisions", "--rw", *extra)


def run(e):
    e.call("POST", "/api/repos/create", {"name": "m", "organization": "me", "type": "model"})
    base = os.path.join(e.w, "base")
    os.makedirs(base)
    write(os.path.join(base, "config.json"), b'{"hidden": 64}\n')
    e.hubfs("upload", "me/m", base, "--quiet")
    c0 = e.head("main")
    e.call("POST", "/api/models/me/m/tag/main", {"tag": "v1"})
    e.call("POST", "/api/models/me/m/branch/feature", {"startingPoint": c0})
    e.call("POST", "/api/models/me/m/branch/gone", {"startingPoint": c0})

    # --- two branch views of one --revisions mount
    mount_revisions(e, "--commit-delay", "60")
    m = e.mnt
    # The kernel caches "no such name" in the alias for the metadata TTL
    # (10 s): a change in main/ must make it forget.
    if os.path.exists(os.path.join(m, "refs", "heads", "main", "a.txt")):
        fail("refs/heads/main/a.txt exists before it was written")
    write(os.path.join(m, "main", "a.txt"), b"on main\n")
    write(os.path.join(m, "refs", "heads", "feature", "b.txt"), b"on feature\n")
    if not os.path.exists(os.path.join(m, "refs", "heads", "main", "a.txt")):
        fail("refs/heads/main/a.txt not found after main/a.txt was written")
    if "a.txt" not in os.listdir(os.path.join(m, "refs", "heads", "main")):
        fail("refs/heads/main/ does not list main's staged a.txt")
    if read(os.path.join(m, "refs", "heads", "main", "a.txt")) != b"on main\n":
        fail("refs/heads/main/a.txt differs from main/a.txt")
    if "b.txt" in os.listdir(os.path.join(m, "main")) or \
            "a.txt" in os.listdir(os.path.join(m, "feature")):
        fail("a branch's staged file shows in another branch")
    if history(e, "main")[0] != c0 or history(e, "feature")[0] != c0:
        fail("something was committed before the commit delay")
    ok("main/a.txt and refs/heads/feature/b.txt staged in their own views; the alias "
       "refs/heads/main/ shows a.txt before any commit")

    p = e.hubfs("pending", m, "--json")
    changes = json.loads(p.stdout)["changes"]
    got = sorted((c["branch"], c["path"]) for c in changes)
    if got != [("feature", "b.txt"), ("main", "a.txt")]:
        fail("hubfs pending --json: %s" % got)
    text = e.hubfs("pending", m).stdout
    if "me/m@main" not in text or "me/m@feature" not in text:
        fail("hubfs pending does not name the branches:\n" + text)
    # The record's counters are refreshed every 2 s.
    wait_for("hubfs status to show both views", lambda: all(
        w in e.hubfs("status").stdout
        for w in ("to me/m@main: 1 pending", "to me/m@feature: 1 pending")), seconds=5)
    ok("hubfs pending and hubfs status show each change with its branch")

    expect_errno(errno.EROFS, "a create under the tag v1/",
                 lambda: write(os.path.join(m, "v1", "x.txt"), b"x"))
    expect_errno(errno.EROFS, "a create under refs/tags/v1/",
                 lambda: write(os.path.join(m, "refs", "tags", "v1", "x.txt"), b"x"))
    expect_errno(errno.EROFS, "a create under the sha directory",
                 lambda: write(os.path.join(m, c0, "x.txt"), b"x"))
    expect_errno(errno.EROFS, "an edit under the sha directory",
                 lambda: open(os.path.join(m, c0, "config.json"), "r+b"))
    expect_errno(errno.EROFS, "mkdir at the root (a new branch)",
                 lambda: os.mkdir(os.path.join(m, "new-branch")))
    expect_errno(errno.EXDEV, "a rename from main/ to feature/",
                 lambda: os.rename(os.path.join(m, "main", "a.txt"),
                                   os.path.join(m, "feature", "a.txt")))
    ok("tag and sha directories EROFS, mkdir at the root EROFS, rename across branches EXDEV")

    before = {rev: history(e, rev) for rev in ("main", "feature")}
    e.sync()  # hubfs sync: fsync of the mount's root
    if e.resolve("a.txt", "main") != b"on main\n" or \
            e.resolve("b.txt", "feature") != b"on feature\n":
        fail("the files did not land on their branches")
    if resolves_to(e, "b.txt", "main", b"on feature\n") or \
            resolves_to(e, "a.txt", "feature", b"on main\n"):
        fail("a file landed on the other branch")
    for rev in ("main", "feature"):
        h = history(e, rev)
        if len(h) != len(before[rev]) + 1 or h[1] != c0:
            fail("%s: expected one commit on top of %s, history %s" % (rev, c0, h))
    if json.loads(e.hubfs("pending", m, "--json").stdout)["changes"]:
        fail("changes still pending after hubfs sync")
    ok("hubfs sync: a.txt on main and b.txt on feature, one commit each on the branch's head")

    # --- kill -9 with a change pending on the second branch; the remount resumes it
    write(os.path.join(m, "feature", "c.txt"), b"resumed\n")
    write(os.path.join(m, "gone", "g.txt"), b"kept\n")
    pid = e.daemon_pid()
    os.kill(pid, 9)
    wait_for("the daemon to die", lambda: e.daemon_pid() is None)
    subprocess.run(["fusermount3", "-uz", m], capture_output=True)
    if resolves_to(e, "c.txt", "feature", b"resumed\n"):
        fail("c.txt was committed before the kill")
    # A branch deleted upstream while it has a pending change.
    e.call("DELETE", "/api/models/me/m/branch/gone")
    mount_revisions(e, "--commit-delay", "1")
    wait_for("c.txt to land on feature", lambda: resolves_to(e, "c.txt", "feature", b"resumed\n"))
    log = os.path.join(e.cache, "hubfs-mount.log")
    wait_for("a log line about the gone branch",
             lambda: "the branch gone of me/m is gone upstream" in open(log).read())
    changes = json.loads(e.hubfs("pending", m, "--json").stdout)["changes"]
    if [(c["branch"], c["path"]) for c in changes] != [("gone", "g.txt")]:
        fail("the gone branch's change is not journaled: %s" % changes)
    e.call("POST", "/api/models/me/m/branch/gone", {"startingPoint": c0})
    wait_for("g.txt to land once the branch is back",
             lambda: resolves_to(e, "g.txt", "gone", b"kept\n"))
    ok("a branch deleted upstream keeps its pending change journaled (logged, listed by "
       "hubfs pending) and commits it when the branch is back")
    if read(os.path.join(m, "feature", "c.txt")) != b"resumed\n":
        fail("feature/c.txt after the remount")
    other = os.path.join(e.w, "mnt2")
    os.makedirs(other)
    p = e.hubfs("mount", "me/m@feature", other, "--rw", check=False)
    if p.returncode == 0:
        e.hubfs("unmount", other, check=False)
        fail("a second --rw mount of feature from the same cache dir was accepted")
    if "already mounted writable" not in p.stderr:
        fail("second --rw mount of feature: %s" % p.stderr)
    p = e.hubfs("mount", "me/m", other, "--revisions", "--rw", check=False)
    if p.returncode == 0:
        e.hubfs("unmount", other, check=False)
        fail("a second --revisions --rw mount of me/m from the same cache dir was accepted")
    if "already mounted writable from this cache dir" not in p.stderr:
        fail("second --revisions --rw mount: %s" % p.stderr)
    ok("kill -9 with feature/c.txt pending: the remount resumed feature's journal and "
       "committed it; a second --rw mount of feature, and a second --revisions --rw mount, "
       "are refused at mount")

    # --- unmount commits what is pending
    e.unmount()
    # Write access is checked at mount: a token that may only read me/m.
    p = e.hubfs("mount", "me/m", e.mnt, "--revisions", "--rw", check=False,
                env=dict(e.env, HF_TOKEN=READER))
    if p.returncode == 0:
        e.unmount()
        fail("--revisions --rw with a token that may not write was accepted")
    if "no write access" not in p.stderr:
        fail("--revisions --rw without write access: %s" % p.stderr)
    ok("--revisions --rw with a read-only token is refused at mount: " + p.stderr.strip())
    mount_revisions(e, "--commit-delay", "60")
    write(os.path.join(m, "main", "d.txt"), b"at unmount\n")
    e.unmount()
    if e.resolve("d.txt", "main") != b"at unmount\n":
        fail("main/d.txt was not committed at unmount")
    ok("unmount committed main/d.txt")

    # --- hub mount
    e.call("POST", "/api/repos/create", {"name": "theirs", "organization": "reader",
                                         "type": "model"}, token=READER)
    e.hubfs("mount", "hub", m, "--rw", "--commit-delay", "1")
    write(os.path.join(m, "models", "me", "m", "main", "h.txt"), b"from the hub mount\n")
    e.sync()
    if e.resolve("h.txt", "main") != b"from the hub mount\n":
        fail("models/me/m/main/h.txt did not land on main")
    theirs = os.path.join(m, "models", "reader", "theirs", "main")
    if not os.path.isdir(theirs):
        fail("models/reader/theirs/main/ is not readable")
    expect_errno(errno.EACCES, "a create in a repo the token may not write",
                 lambda: write(os.path.join(theirs, "x.txt"), b"x"))
    wait_for("the log line about reader/theirs", lambda: "reader/theirs@main: no write access"
             in open(os.path.join(e.cache, "hubfs-mount.log")).read(), seconds=5)
    e.unmount()
    ok("hub --rw: models/me/m/main/h.txt landed on main; another user's repo answers EACCES")


if __name__ == "__main__":
    main()
