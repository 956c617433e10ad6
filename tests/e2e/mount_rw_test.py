#!/usr/bin/env python3
"""The writable mount, end to end: real FUSE mounts of hubsim branches.

Checks (each prints "ok: ..."):
- refusals at mount time: a tag, --create-pr with --revisions or hub, a
  token without write access; a read-only mount answers EROFS
  (mount_rw_views_test.py has --rw with --revisions and hub);
- cp -r of 200 small files and a 3 MiB one makes a handful of commits, and
  every file reads back byte-identical through hubsim's resolve, the
  official JS client (--kit) and huggingface_hub (--pyenv);
- an in-place 1 MiB edit of an 8 MiB file downloads nothing at open or
  write and uploads at most ~3 MiB of xorbs;
- editor saves (write-temp-then-rename, vim's backup pattern) commit only
  the final file; a directory rename re-references (no xorb upload);
  mkdir/rmdir of an empty directory commits nothing; unlink deletes;
- numpy memmap r+ edits are committed; fsync returns once committed;
- truncate(2) and an open for update of a file whose creation was
  committed; a directory emptied by unlink stays; ENAMETOOLONG;
- kill -9 of the daemon after close: the remount commits the change; an
  mtime set by touch -d on the pending file shows until the commit;
- a racing commit on the same path: the change goes to a pull request and
  `hubfs sync` reports it, main keeps the other writer's version;
- a connection reset right after a commit landed: no second commit;
- two processes writing different files, and one file: everything lands,
  the one file is one writer's whole bytes on the Hub as in the mount;
- directories and a committed file keep their inode numbers when the
  branch moves;
- the Hub's commit budget (hubsim --commit-budget): cp -r of 1 000 files
  under 1 commit per 10 s makes a handful of commits, waits Retry-After,
  `hubfs status` shows the pause, `hubfs pending` lists what waits, and
  everything lands once.

usage: mount_rw_test.py --hubfs BIN --hubsim BIN [--kit DIR] [--pyenv PYTHON]
"""
import argparse
import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TOKEN = "hf_writer_token"
READER = "hf_reader_token"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("ok: " + msg, flush=True)


class Env:
    def __init__(self, args):
        self.args = args
        self.w = tempfile.mkdtemp(prefix="hubfs-rw-")
        self.mnt = os.path.join(self.w, "mnt")
        os.makedirs(self.mnt)
        self.cache = os.path.join(self.w, "cache")
        log = open(os.path.join(self.w, "hubsim.log"), "w")
        self.sim = subprocess.Popen(
            [args.hubsim, "serve", "--data", os.path.join(self.w, "data"), "--listen",
             "127.0.0.1:0", "--user", "me:" + TOKEN, "--user", "reader:" + READER],
            stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.sim.stdout.readline()
        if not line.startswith("hubsim listening on "):
            fail("hubsim did not start")
        self.url = line.split()[3]
        self.env = dict(os.environ, HF_ENDPOINT=self.url, HF_TOKEN=TOKEN,
                        HUBFS_CACHE_DIR=self.cache, HF_HOME=os.path.join(self.w, "hfhome"))
        self.env.pop("HF_HUB_OFFLINE", None)

    # --- hubsim
    def call(self, method, path, body=None, token=TOKEN, raw=False):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as r:
            out = r.read()
        return out if raw else json.loads(out)

    def resolve(self, path, rev="main"):
        return self.call("GET", "/me/m/resolve/%s/%s" % (urllib.request.quote(rev, safe=""),
                                                         urllib.request.quote(path)), raw=True)

    def head(self, rev="main"):
        return self.call("GET", "/api/models/me/m/revision/" + urllib.request.quote(rev, safe=""))["sha"]

    def commits(self):
        return self.call("GET", "/api/models/me/m/commits/main?limit=1000")

    def tree(self, rev="main"):
        # Pages of 1000 entries, the next one named by an absolute Link.
        out, url = {}, self.url + "/api/models/me/m/tree/%s?recursive=true" % rev
        while url:
            req = urllib.request.Request(url)
            req.add_header("Authorization", "Bearer " + TOKEN)
            with urllib.request.urlopen(req, timeout=60) as r:
                out.update({e["path"]: e for e in json.loads(r.read()) if e["type"] == "file"})
                link = r.headers.get("Link") or ""
            url = link.split(">")[0].lstrip("<") if 'rel="next"' in link else None
        return out

    def counters(self):
        c = self.call("GET", "/admin/counters")
        xorb = c["cas"].get("xorb-upload", {}).get("bytes_in", 0)
        data = sum(v.get("bytes", 0) for v in c.get("data", {}).values())
        return xorb, data

    def reset(self):
        self.call("DELETE", "/admin/counters")

    def admin(self, path, text):
        req = urllib.request.Request(self.url + path, data=text.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    # --- hubfs
    def hubfs(self, *argv, env=None, check=True):
        p = subprocess.run([self.args.hubfs] + list(argv), env=env or self.env,
                           capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            fail("hubfs %s: %s" % (" ".join(argv[:2]), p.stderr.strip()))
        return p

    def mount(self, *extra, env=None, check=True):
        return self.hubfs("mount", "me/m", self.mnt, "--rw", *extra, env=env, check=check)

    def unmount(self):
        if self.mounted():
            self.hubfs("unmount", self.mnt, check=False)
        for _ in range(100):
            if not self.daemon_pid():
                return
            time.sleep(0.1)

    def mounted(self):
        with open("/proc/self/mountinfo") as f:
            return any((" %s " % self.mnt) in line for line in f)

    def daemon_pid(self):
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if b"mount" in args and self.mnt.encode() in args:
                return int(p)
        return None

    def sync(self):
        fd = os.open(self.mnt, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def teardown(self):
        try:
            if self.mounted():
                subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
            if self.mounted():
                subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)
            pid = self.daemon_pid()
            if pid:
                time.sleep(0.5)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        finally:
            self.sim.terminate()
            self.sim.wait()
            if not self.mounted():
                shutil.rmtree(self.w, ignore_errors=True)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubfs", required=True)
    ap.add_argument("--hubsim", required=True)
    ap.add_argument("--kit", default="")
    ap.add_argument("--pyenv", default="")
    args = ap.parse_args()
    e = Env(args)
    try:
        run(e, args)
    finally:
        e.teardown()
    print("mount_rw_test: ok")


def run(e, args):
    rng = random.Random(12)
    e.call("POST", "/api/repos/create", {"name": "m", "organization": "me", "type": "model"})
    base = os.path.join(e.w, "base")
    os.makedirs(base)
    weights = bytearray(rng.randbytes(8 << 20))
    write(os.path.join(base, "weights.bin"), weights)
    write(os.path.join(base, "config.json"), b'{"hidden": 64}\n')
    e.hubfs("upload", "me/m", base, "--quiet")
    e.call("POST", "/api/models/me/m/tag/main", {"tag": "v1"})

    # --- refusals
    p = e.hubfs("mount", "me/m@v1", e.mnt, "--rw", check=False)
    if p.returncode == 0 or "not a branch" not in p.stderr:
        fail("--rw on a tag: rc %d %s" % (p.returncode, p.stderr))
    for multi in (["me/m", "--revisions"], ["hub"]):
        p = e.hubfs("mount", multi[0], e.mnt, "--rw", "--create-pr", *multi[1:], check=False)
        if p.returncode == 0 or "--create-pr is for a single branch" not in p.stderr:
            fail("--rw --create-pr with %s: rc %d %s" % (" ".join(multi), p.returncode, p.stderr))
    p = e.mount(env=dict(e.env, HF_TOKEN=READER), check=False)
    if p.returncode == 0 or "no write access" not in p.stderr:
        fail("--rw without write access: rc %d %s" % (p.returncode, p.stderr))
    e.hubfs("mount", "me/m", e.mnt)
    try:
        open(os.path.join(e.mnt, "x.txt"), "w")
        fail("a read-only mount accepted a create")
    except OSError as err:
        if err.errno != errno.EROFS:
            fail("read-only mount: %s" % err)
    p = e.hubfs("pending", e.mnt, check=False)
    if p.returncode != 1 or "not a writable" not in p.stderr:
        fail("hubfs pending on a read-only mount: rc %d %s" % (p.returncode, p.stderr))
    e.unmount()
    ok("a tag, --create-pr with --revisions/hub and a read-only token are refused at mount; "
       "a read-only mount gives EROFS")

    e.mount("--commit-delay", "1")
    # --- cp -r
    src = os.path.join(e.w, "folder")
    files = {}
    for i in range(200):
        rel = "d%d/f%03d.txt" % (i % 5, i)
        files[rel] = ("file %d\n" % i).encode() * rng.randint(1, 50)
    files["d0/big.bin"] = rng.randbytes(3 << 20)
    for rel, data in files.items():
        os.makedirs(os.path.join(src, os.path.dirname(rel)), exist_ok=True)
        write(os.path.join(src, rel), data)
    before = len(e.commits())
    t0 = time.time()
    subprocess.run(["cp", "-r", src, os.path.join(e.mnt, "copied")], check=True)
    copy_s = time.time() - t0
    e.sync()
    made = len(e.commits()) - before
    # One commit per --commit-delay (1 s) at most while cp runs, plus the sync's.
    if made < 1 or made > 3 + int(copy_s):
        fail("cp -r of %d files in %.1f s made %d commits" % (len(files), copy_s, made))
    tree = e.tree()
    for rel, data in files.items():
        if tree.get("copied/" + rel, {}).get("size") != len(data):
            fail("copied/%s missing or wrong size on the Hub" % rel)
    for rel in ["d0/big.bin", "d1/f001.txt", "d4/f199.txt"]:
        if e.resolve("copied/" + rel) != files[rel]:
            fail("resolve of copied/%s differs" % rel)
    if args.kit:
        kenv = dict(e.env, HF_REPO="me/m")
        for rel in ["d0/big.bin", "d2/f002.txt"]:
            out = os.path.join(e.w, "js.out")
            subprocess.run(["node", os.path.join(args.kit, "hub_client.mjs"), "download",
                            "copied/" + rel, out], env=kenv, check=True, capture_output=True)
            with open(out, "rb") as f:
                if f.read() != files[rel]:
                    fail("JS client download of copied/%s differs" % rel)
    if args.pyenv:
        code = ("import sys; from huggingface_hub import hf_hub_download; "
                "print(hf_hub_download('me/m', sys.argv[1]))")
        for rel in ["d0/big.bin", "d3/f003.txt"]:
            p = subprocess.run([args.pyenv, "-c", code, "copied/" + rel], env=e.env,
                               capture_output=True, text=True, check=True)
            with open(p.stdout.strip(), "rb") as f:
                if f.read() != files[rel]:
                    fail("hf_hub_download of copied/%s differs" % rel)
    ok("cp -r of %d files in %.1f s: %d commit(s); Hub, JS and Python reads identical"
       % (len(files), copy_s, made))

    # --- in-place edit
    e.reset()
    patch = rng.randbytes(1 << 20)
    with open(os.path.join(e.mnt, "weights.bin"), "r+b") as f:
        f.seek(4 << 20)
        f.write(patch)
    _, fetched = e.counters()
    if fetched != 0:
        fail("opening and editing fetched %d bytes of file data" % fetched)
    t0 = time.time()
    e.sync()
    edit_s = time.time() - t0
    xorb, fetched = e.counters()
    weights[4 << 20:5 << 20] = patch
    if hashlib.sha256(e.resolve("weights.bin")).digest() != hashlib.sha256(weights).digest():
        fail("weights.bin after the edit differs")
    if xorb > 3 << 20:
        fail("the 1 MiB edit uploaded %d bytes of xorbs" % xorb)
    with open(os.path.join(e.mnt, "weights.bin"), "rb") as f:
        if hashlib.sha256(f.read()).digest() != hashlib.sha256(weights).digest():
            fail("weights.bin through the mount differs after the commit")
    # Its pages are in the kernel now; an open for writing of the file
    # committed from here keeps them (they are its content).
    wpath = os.path.join(e.mnt, "weights.bin")
    with open(wpath, "r+b"):
        pass
    check_resident(wpath, len(weights), "opening the committed weights.bin for writing",
                   slack=0)
    ok("1 MiB edit of an 8 MiB file: nothing downloaded at open or write; %d B of xorbs "
       "uploaded, %d B read at commit, %.2f s to committed" % (xorb, fetched, edit_s))
    check_edits_hash_what_changed(e, args, rng)
    check_upload_while_written(e, args, rng)

    # --- editor patterns, directories
    cfg = os.path.join(e.mnt, "config.json")
    write(cfg + ".tmp", b'{"hidden": 128}\n')
    os.rename(cfg + ".tmp", cfg)
    os.rename(cfg, cfg + "~")  # vim: backup, new file, drop the backup
    write(cfg, b'{"hidden": 256}\n')
    os.unlink(cfg + "~")
    os.mkdir(os.path.join(e.mnt, "empty"))
    os.rmdir(os.path.join(e.mnt, "empty"))
    e.reset()
    os.rename(os.path.join(e.mnt, "copied", "d1"), os.path.join(e.mnt, "moved"))
    os.unlink(os.path.join(e.mnt, "copied", "d2", "f002.txt"))
    e.sync()
    xorb, _ = e.counters()
    tree = e.tree()
    if e.resolve("config.json") != b'{"hidden": 256}\n':
        fail("config.json after the editor saves: %r" % e.resolve("config.json"))
    bad = [p for p in tree if p.endswith("~") or p.endswith(".tmp") or p.startswith("empty")]
    if bad:
        fail("temporary names reached the Hub: %r" % bad)
    if any(p.startswith("copied/d1/") for p in tree) or "moved/f001.txt" not in tree:
        fail("the directory rename did not move copied/d1 to moved/")
    if "copied/d2/f002.txt" in tree:
        fail("unlink did not delete copied/d2/f002.txt")
    if xorb != 0:
        fail("renames and deletes uploaded %d bytes of xorbs" % xorb)
    ok("editor saves commit only the final file; a directory rename re-references "
       "(0 B uploaded); rmdir of a new directory and unlink behave")

    # --- numpy memmap r+ and fsync
    try:
        import numpy as np
        arr_path = os.path.join(e.mnt, "arr.npy")
        np.save(arr_path, np.zeros(1000, dtype=np.float32))
        m = np.load(arr_path, mmap_mode="r+")
        m[10:20] = 7.5
        m.flush()
        del m
        e.sync()
        got = np.frombuffer(e.resolve("arr.npy")[128:], dtype=np.float32)
        if not (got[10:20] == 7.5).all() or got[0] != 0:
            fail("the memmap edit did not reach the Hub")
        ok("numpy memmap r+ edits committed")
    except ImportError:
        ok("numpy missing: memmap check skipped")
    head = e.head()
    fd = os.open(os.path.join(e.mnt, "synced.txt"), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"durable\n")
    os.fsync(fd)
    if e.head() == head or e.resolve("synced.txt") != b"durable\n":
        fail("fsync returned before the commit")
    os.close(fd)
    ok("fsync returns once the change is committed")

    # --- POSIX details (found by pjdfstest)
    d = os.path.join(e.mnt, "posix")
    os.mkdir(d)
    only = os.path.join(d, "only.txt")
    write(only, b"x\n")
    e.sync()
    # A file created here whose creation was committed: truncate(2) by path
    # and an open for update reach the Hub's version.
    os.truncate(only, 1)
    with open(only, "r+b") as f:
        f.seek(1)
        f.write(b"yz")
    e.sync()
    if e.resolve("posix/only.txt") != b"xyz":
        fail("truncate/update of a committed file: %r" % e.resolve("posix/only.txt"))
    # Its directory's last file deleted: the directory stays (as after mkdir).
    os.unlink(only)
    e.sync()
    if "posix/only.txt" in e.tree():
        fail("unlink of posix/only.txt not committed")
    if not os.path.isdir(d) or os.listdir(d):
        fail("a directory emptied by unlink vanished once the deletion was committed")
    # A directory kept only by an emptied subdirectory stays when that goes.
    os.mkdir(os.path.join(d, "sub"))
    write(os.path.join(d, "sub", "f"), b"f\n")
    e.sync()
    os.unlink(os.path.join(d, "sub", "f"))
    e.sync()
    os.rmdir(os.path.join(d, "sub"))
    if not os.path.isdir(d) or os.listdir(d):
        fail("a directory emptied by rmdir vanished")
    write(os.path.join(d, "again.txt"), b"a\n")
    e.sync()
    if e.resolve("posix/again.txt") != b"a\n":
        fail("a file in the emptied directory was not committed")
    # Names longer than NAME_MAX: ENAMETOOLONG, not EINVAL (lookups too).
    long_name = os.path.join(e.mnt, "n" * 256)
    for what, op in (("stat", os.stat), ("open", lambda p: open(p, "rb"))):
        try:
            op(long_name)
            fail("%s of a 256-byte name succeeded" % what)
        except OSError as err:
            if err.errno != errno.ENAMETOOLONG:
                fail("%s of a 256-byte name: %s" % (what, err))
    for what, op in (("create", lambda p: open(p, "w")), ("mkdir", os.mkdir),
                     ("rename", lambda p: os.rename(os.path.join(d, "again.txt"), p))):
        try:
            op(long_name)
            fail("%s of a 256-byte name succeeded" % what)
        except OSError as err:
            if err.errno != errno.ENAMETOOLONG:
                fail("%s of a 256-byte name: %s" % (what, err))
    ok("truncate and update of a committed file, an emptied directory stays, "
       "ENAMETOOLONG for long names")
    e.unmount()

    # --- kill -9 after close, then remount
    e.mount("--commit-delay", "120")
    write(os.path.join(e.mnt, "after_kill.txt"), b"acknowledged by close\n")
    # utimensat of a pending file: kept until its commit (touch -d, cp -p).
    stamped = os.path.join(e.mnt, "after_kill.txt")
    subprocess.run(["touch", "-d", "2020-01-02 03:04:05 UTC", stamped], check=True)
    want = 1577934245
    time.sleep(1.1)
    if int(os.stat(stamped).st_mtime) != want:
        fail("touch -d on a pending file: mtime %d, not %d" % (os.stat(stamped).st_mtime, want))
    with open(stamped, "rb") as f:
        f.read()
    if int(os.stat(stamped).st_mtime) != want:
        fail("the mtime set by touch -d did not survive a read")
    os.kill(e.daemon_pid(), signal.SIGKILL)
    time.sleep(0.3)
    subprocess.run(["fusermount3", "-uz", e.mnt], capture_output=True)
    if "after_kill.txt" in e.tree():
        fail("committed before the commit delay")
    e.mount("--commit-delay", "1")
    e.sync()
    if e.resolve("after_kill.txt") != b"acknowledged by close\n":
        fail("the change closed before kill -9 was lost")
    if int(os.stat(stamped).st_mtime) == want:
        fail("a committed file still shows the local mtime")
    ok("kill -9 after close: the remount committed the journaled change; touch -d kept "
       "the pending file's mtime until then")

    # --- a racing commit on the same path (a long commit delay: the other
    # writer commits first; our sync then meets the conflict)
    e.unmount()
    e.mount("--commit-delay", "60", "--metadata-ttl", "1")
    mine = os.path.join(e.mnt, "race.txt")
    write(mine, b"from the mount\n")
    with open(mine, "rb") as f:  # its pages in the kernel
        f.read()
    other = os.path.join(e.w, "race.txt")
    write(other, b"from elsewhere\n")  # the same length: stale pages would show
    subprocess.run([args.hubfs, "upload", "me/m", other, "--quiet"], env=e.env, check=True)
    try:
        e.sync()
        fail("hubfs sync reported success although the change went to a pull request")
    except OSError as err:
        if err.errno != errno.ESTALE:
            fail("sync after a conflict: %s" % err)
    if e.resolve("race.txt") != b"from elsewhere\n":
        fail("the other writer's version was overwritten")
    # The view shows the branch's head once it refreshes (metadata TTL);
    # the pages the kernel held of this mount's version must not show.
    seen = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(mine, "rb") as f:
                seen = f.read()
            break
        except FileNotFoundError:
            time.sleep(0.2)
    if seen != b"from elsewhere\n":
        fail("after the conflict the mount shows %r, not the branch's version" % seen)
    refs = e.call("GET", "/api/models/me/m/refs?include_prs=1")
    prs = [r["ref"] for r in refs.get("pullRequests", [])]
    if not prs or e.resolve("race.txt", prs[-1]) != b"from the mount\n":
        fail("the conflicting change is not in a pull request: %r" % prs)
    ok("a racing commit: main keeps the other version, ours went to %s, sync said ESTALE"
       % prs[-1])
    e.unmount()

    e.mount("--commit-delay", "1")
    check_reset_after_commit(e)
    check_concurrent_writers(e)
    check_commit_budget(e)
    e.unmount()
    check_create_pr(e)
    check_upload_while_writing_off(e)
    check_numbers_kept(e)


def check_resident(path, size, what, slack=2 << 20):
    """The kernel kept the file's pages: a dropped entry loses them all. By
    default `slack` bytes may be missing: the kernel may itself drop the
    folio an edit wrote into part of (up to 2 MiB with large folios)."""
    resident = int(subprocess.run(["fincore", "-b", "-n", "-o", "RES", path], check=True,
                                  capture_output=True, text=True).stdout.split()[0])
    if resident < size - slack:
        fail("%s dropped the file's pages: %d of %d B resident" % (what, resident, size))


def check_numbers_kept(e):
    """Directories, and a file written here, keep their inode numbers when a
    commit lands and another writer's commit moves the branch. A directory
    that got a new number while a child kept its own put that child's inode
    under two parents in the kernel: a lookup racing a rename failed with
    ESTALE (found by the fault matrix's rename storm)."""
    e.mount("--commit-delay", "0.2", "--metadata-ttl", "1")
    d = os.path.join(e.mnt, "numbers", "a")
    os.makedirs(d)
    mine = os.path.join(d, "mine.bin")
    write(mine, b"written here\n")
    held = os.open(mine, os.O_RDONLY)
    try:
        paths = (os.path.join(e.mnt, "numbers"), d, mine)
        before = [os.stat(p).st_ino for p in paths]
        e.sync()
        other = os.path.join(e.w, "other", "numbers", "a")
        os.makedirs(other)
        write(os.path.join(other, "theirs.txt"), b"from elsewhere\n")
        e.hubfs("upload", "me/m", os.path.join(e.w, "other"), "--quiet")
        deadline = time.monotonic() + 20
        while "theirs.txt" not in os.listdir(d):
            if time.monotonic() > deadline:
                fail("the mount never showed the other writer's commit")
            time.sleep(0.2)
        after = [os.stat(p).st_ino for p in paths]
        if after != before or os.fstat(held).st_ino != before[2]:
            fail("inode numbers changed with the commits: %s -> %s (held %d)"
                 % (before, after, os.fstat(held).st_ino))
        with open(mine, "rb") as f:
            if f.read() != b"written here\n":
                fail("the committed file reads differently")
    finally:
        os.close(held)
    # An edit's commit moves the view to a commit where the file differs
    # from the one before: the kernel already shows it, so its entry stays
    # and so do its pages (nothing holds the inode open here).
    edited = os.path.join(e.mnt, "numbers", "edited.bin")
    content = bytearray(random.Random(7).randbytes(16 << 20))
    write(edited, content)
    e.sync()
    time.sleep(0.5)  # the kernel's invalidations run on their own thread
    check_resident(edited, len(content), "the commit of a new file")
    with open(edited, "r+b") as f:
        f.seek(1 << 20)
        f.write(b"e" * 4096)
    content[1 << 20:(1 << 20) + 4096] = b"e" * 4096
    e.sync()
    time.sleep(0.5)
    check_resident(edited, len(content), "the edit's commit")
    with open(edited, "rb") as f:
        if f.read() != content or e.resolve("numbers/edited.bin") != content:
            fail("the edited file reads differently through the mount or the Hub")
    e.unmount()
    ok("directories and a file written here keep their numbers across their commit and "
       "another writer's; the commits of a new file and of an edit keep its pages")


def check_upload_while_writing_off(e):
    e.mount("--commit-delay", "1", "--upload-while-writing", "off")
    data = random.Random(5).randbytes(12 << 20)
    with open(os.path.join(e.mnt, "not-streamed.bin"), "wb") as f:
        for at in range(0, len(data), 1 << 20):
            f.write(data[at:at + (1 << 20)])
    e.sync()
    entry = e.tree().get("not-streamed.bin", {})
    if entry.get("lfs", {}).get("oid") != hashlib.sha256(data).hexdigest():
        fail("--upload-while-writing off: the Hub has %s" % entry)
    time.sleep(2.5)  # the state record
    if state_count(e, "uploaded_while_written") != 0:
        fail("--upload-while-writing off: a file was uploaded while written")
    e.unmount()
    ok("--upload-while-writing off: the file is uploaded at its commit only")


def check_create_pr(e):
    """--create-pr: the first commit opens a pull request, the next ones go to
    it, the mount shows its files all along, and a remount continues it."""
    env = dict(e.env, HUBFS_CACHE_DIR=os.path.join(e.w, "cache-pr"))
    main_before = e.head()
    e.mount("--commit-delay", "1", "--create-pr", env=env)
    write(os.path.join(e.mnt, "pr-one.txt"), b"one\n")
    e.sync()
    prs = e.call("GET", "/api/models/me/m/refs?include_prs=1").get("pullRequests", [])
    if not prs:
        fail("--create-pr: no pull request after the first commit")
    pr = prs[-1]["ref"]
    if e.resolve("pr-one.txt", pr) != b"one\n":
        fail("--create-pr: %s does not have pr-one.txt" % pr)
    if e.head() != main_before:
        fail("--create-pr: main moved")
    with open(os.path.join(e.mnt, "pr-one.txt"), "rb") as f:
        if f.read() != b"one\n":
            fail("--create-pr: the mount lost pr-one.txt after its commit")
    write(os.path.join(e.mnt, "pr-two.txt"), b"two\n")
    e.sync()
    if e.resolve("pr-two.txt", pr) != b"two\n" or \
            len(e.call("GET", "/api/models/me/m/refs?include_prs=1")["pullRequests"]) != len(prs):
        fail("--create-pr: the second commit did not go to %s" % pr)
    e.unmount()
    e.mount("--commit-delay", "1", "--create-pr", env=env)
    names = set(os.listdir(e.mnt))
    if not {"pr-one.txt", "pr-two.txt"} <= names:
        fail("--create-pr remount does not show %s's files: %s" % (pr, sorted(names)))
    write(os.path.join(e.mnt, "pr-three.txt"), b"three\n")
    e.sync()
    if e.resolve("pr-three.txt", pr) != b"three\n":
        fail("--create-pr remount: pr-three.txt did not go to %s" % pr)
    time.sleep(2.5)  # the state record
    st = e.hubfs("status", env=env).stdout
    if ("showing " + pr) not in st or ("writes:   to " + pr) not in st:
        fail("--create-pr: hubfs status does not say it shows and writes %s:\n%s" % (pr, st))
    e.unmount()
    ok("--create-pr: commits went to %s (main unchanged), the mount showed its files after "
       "each commit and at a remount, which continued it" % pr)


def state_count(e, key):
    """A counter of the mount's state record (refreshed every 2 s); -1 when
    there is no record."""
    pid = e.daemon_pid()
    try:
        with open(os.path.join(e.cache, "mounts", "%d.json" % pid)) as f:
            return json.load(f).get(key, 0)
    except (OSError, ValueError, TypeError):
        return -1


def edits_hashed(e):
    """The mount's count of files committed as edits hashed from their base's
    chunk list."""
    return state_count(e, "edits_hashed")


def js_download(e, args, name):
    """The official JS client's download of `name` from main, as bytes."""
    out = os.path.join(e.w, "js.download")
    subprocess.run(["node", os.path.join(args.kit, "hub_client.mjs"), "download", name, out],
                   env=dict(e.env, HF_REPO="me/m"), check=True, capture_output=True)
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data


def wait_count(e, key, want, seconds=5):
    deadline = time.time() + seconds
    while state_count(e, key) < want and time.time() < deadline:
        time.sleep(0.2)
    return state_count(e, key)


def check_upload_while_written(e, args, rng):
    """New files written from their start are uploaded while they are
    written; anything but appends falls back to hashing at commit, and the
    Hub always gets the bytes of the closed file."""
    mib = 1 << 20
    key = "uploaded_while_written"
    time.sleep(2.5)  # a fresh state record
    count = state_count(e, key)
    if count < 0:
        fail("no mount state record with " + key)

    def check(name, data, streamed, what):
        nonlocal count
        e.sync()
        want = hashlib.sha256(data).hexdigest()
        entry = e.tree().get(name, {})
        if entry.get("lfs", {}).get("oid") != want or entry.get("size") != len(data):
            fail("%s (%s): the Hub has %s, want %s" % (name, what, entry, want))
        got = wait_count(e, key, count + streamed)
        if got != count + streamed:
            fail("%s (%s): %s went from %d to %d, want +%d" % (name, what, key, count, got,
                                                             streamed))
        count = got

    # In order, 1 MiB writes: uploaded once, while written.
    data = rng.randbytes(40 * mib)
    e.reset()
    with open(os.path.join(e.mnt, "streamed.bin"), "wb") as f:
        for at in range(0, len(data), mib):
            f.write(data[at:at + mib])
    check("streamed.bin", data, 1, "written in order")
    xorb, _ = e.counters()
    if xorb > len(data) + 2 * mib:
        fail("streamed.bin: %d B of xorbs uploaded for %d B" % (xorb, len(data)))
    if args.kit and js_download(e, args, "streamed.bin") != data:
        fail("JS client download of streamed.bin differs")

    # A write below the end (a header patched last, as some writers do).
    data = bytearray(rng.randbytes(30 * mib))
    with open(os.path.join(e.mnt, "patched.bin"), "wb") as f:
        f.write(data)
        f.seek(mib + 5)
        f.write(b"patched header")
    data[mib + 5:mib + 5 + 14] = b"patched header"
    check("patched.bin", bytes(data), 0, "a write below the end")

    # Truncated while written, then written on.
    data = bytearray(rng.randbytes(30 * mib))
    with open(os.path.join(e.mnt, "cut.bin"), "wb") as f:
        f.write(data)
        f.truncate(20 * mib)
        f.seek(20 * mib)
        tail = rng.randbytes(5 * mib)
        f.write(tail)
    data = data[:20 * mib] + tail
    check("cut.bin", bytes(data), 0, "truncated while written")

    # fsync while open commits without waiting for the stream; the version
    # closed later is committed from it.
    data = rng.randbytes(24 * mib)
    with open(os.path.join(e.mnt, "synced.bin"), "wb") as f:
        f.write(data[:16 * mib])
        f.flush()
        os.fsync(f.fileno())
        entry = e.tree().get("synced.bin", {})
        if entry.get("size") != 16 * mib:
            fail("synced.bin after fsync: the Hub has %s" % entry)
        f.write(data[16 * mib:])
    check("synced.bin", data, 1, "fsync'ed while written, then closed")
    st = e.hubfs("status").stdout
    m = re.search(r"(\d+) uploaded while written", st)
    if not m or int(m.group(1)) != count:
        fail("hubfs status does not count %d files uploaded while written:\n%s" % (count, st))
    ok("files written in order are uploaded while written (40 MiB: %d B of xorbs); a write "
       "below the end or a truncate falls back to hashing at commit; fsync while writing "
       "does not wait for it; the Hub has every closed version" % xorb)


def check_edits_hash_what_changed(e, args, rng):
    """Edits of a file the mount committed are hashed from its chunk list (only
    the changed bytes chunked): each commit must still be exactly the new
    bytes, for the Hub, the JS client and huggingface_hub."""
    path = os.path.join(e.mnt, "edited.bin")
    model = bytearray(rng.randbytes((40 << 20) + 777))
    write(path, model)
    e.sync()
    mib = 1 << 20

    def overwrite(at, n):
        data = rng.randbytes(n)
        with open(path, "r+b") as f:
            f.seek(at)
            f.write(data)
        model[at:at + n] = data

    def append(n):
        data = rng.randbytes(n)
        with open(path, "ab") as f:
            f.write(data)
        model.extend(data)

    def rewrite_same(at, n):
        with open(path, "r+b") as f:
            f.seek(at)
            f.write(bytes(model[at:at + n]))

    def truncate(n):
        os.truncate(path, n)
        del model[n:]

    steps = [("1 MiB in the middle", lambda: overwrite(20 * mib, mib)),
             ("100 B across the 16 MiB midstate", lambda: overwrite(16 * mib - 50, 100)),
             ("4 KiB at the start", lambda: overwrite(0, 4096)),
             ("the last byte", lambda: overwrite(len(model) - 1, 1)),
             ("the same bytes again", lambda: rewrite_same(30 * mib, 5000)),
             ("200 KB appended", lambda: append(200000)),
             ("truncated to 25 MiB + 3", lambda: truncate(25 * mib + 3))]
    time.sleep(2.5)  # the state record is refreshed every 2 s
    count = edits_hashed(e)
    if count < 0:
        fail("no mount state record with edits_hashed")
    for what, step in steps:
        step()
        e.sync()
        want = hashlib.sha256(model).hexdigest()
        entry = e.tree().get("edited.bin", {})
        if entry.get("lfs", {}).get("oid") != want or entry.get("size") != len(model):
            fail("edited.bin after '%s': the Hub has %s, want %s" % (what, entry, want))
        if hashlib.sha256(e.resolve("edited.bin")).hexdigest() != want:
            fail("edited.bin after '%s': resolve differs" % what)
        got = wait_count(e, "edits_hashed", count + 1)
        if got != count + 1:
            fail("'%s' was not hashed as an edit (edits_hashed %d, was %d)" % (what, got, count))
        count += 1
    if args.kit and js_download(e, args, "edited.bin") != model:
        fail("JS client download of edited.bin differs")
    if args.pyenv:
        code = ("import sys; from huggingface_hub import hf_hub_download; "
                "print(hf_hub_download('me/m', sys.argv[1]))")
        p = subprocess.run([args.pyenv, "-c", code, "edited.bin"], env=e.env,
                           capture_output=True, text=True, check=True)
        with open(p.stdout.strip(), "rb") as f:
            if f.read() != model:
                fail("hf_hub_download of edited.bin differs")
    ok("%d edits of a 40 MiB file (middle, across a midstate, start, last byte, unchanged, "
       "append, truncate) hashed from its chunk list; Hub%s%s bytes identical"
       % (len(steps), ", JS" if args.kit else "", ", Python" if args.pyenv else ""))


def reset_seed(path, p):
    """A hubsim fault seed whose first commit POST to `path` is reset and
    whose second is not (hubsim's faults.cc: a SHA-1 of seed, origin, route,
    path, range and attempt)."""
    def unit(seed, attempt):
        key = "%d\nhub\ncommit\n%s\n\n%d" % (seed, path, attempt)
        return int(hashlib.sha1(key.encode()).hexdigest()[:13], 16) / float(1 << 52)
    for seed in range(1, 100000):
        if unit(seed, 0) < p and unit(seed, 1) >= p:
            return seed
    fail("no fault seed found")


def check_reset_after_commit(e):
    # The connection of the commit POST closes after hubsim applied it: the
    # mount must find it on the branch, not send it again. Other Hub routes
    # see resets too (p = 0.2) and are retried.
    e.sync()
    before = len(e.commits())
    seed = reset_seed("/api/models/me/m/commit/main", 0.2)
    e.reset()
    e.admin("/admin/faults", "reset=0.2,only=hub,seed=%d" % seed)
    try:
        write(os.path.join(e.mnt, "reset.txt"), b"landed once\n")
        e.sync()
    finally:
        e.admin("/admin/faults", "")
    faults = e.call("GET", "/admin/counters")["faults"].get("hub", {})
    if faults.get("reset", 0) < 1:
        fail("no reset was injected: %r" % faults)
    made = len(e.commits()) - before
    if made != 1 or e.resolve("reset.txt") != b"landed once\n":
        fail("a commit whose answer was reset: %d commits made" % made)
    ok("a connection reset after the commit landed: 1 commit, not sent twice (%d resets)"
       % faults["reset"])


WRITER = """
import os, sys
path, byte, rounds = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
for i in range(rounds):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, byte * 65536, 0)
    os.close(fd)
    with open(os.path.join(os.path.dirname(path), "own-%s-%d" % (sys.argv[2], i)), "wb") as f:
        f.write(byte * (i + 1))
"""


def check_concurrent_writers(e):
    # Two processes: each rewrites one shared file 20 times (one 64 KiB
    # pwrite: one FUSE write, applied whole) and writes 20 files of its own.
    d = os.path.join(e.mnt, "conc")
    os.mkdir(d)
    shared = os.path.join(d, "shared.bin")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, shared, b, "20"])
             for b in ("A", "B")]
    if any(p.wait(timeout=120) != 0 for p in procs):
        fail("a concurrent writer failed")
    e.sync()
    with open(shared, "rb") as f:
        local = f.read()
    hub = e.resolve("conc/shared.bin")
    if hub != local or local not in (b"A" * 65536, b"B" * 65536):
        fail("concurrent writers of one file: the Hub has %r..., the mount %r..."
             % (hub[:8], local[:8]))
    tree = e.tree()
    for b in ("A", "B"):
        for i in range(20):
            if tree.get("conc/own-%s-%d" % (b, i), {}).get("size") != i + 1:
                fail("conc/own-%s-%d missing on the Hub" % (b, i))
    ok("two concurrent writers: 40 own files land; the shared file is writer %s's whole "
       "bytes, on the Hub as in the mount" % chr(local[0]))


def check_commit_budget(e):
    e.sync()
    src = os.path.join(e.w, "many")
    for i in range(1000):
        sub = os.path.join(src, "s%d" % (i % 10))
        os.makedirs(sub, exist_ok=True)
        write(os.path.join(sub, "f%04d.txt" % i), b"small file %d\n" % i)
    # One commit per 10 s, and that one used up just before cp starts: the
    # first commit of the copy meets a 429.
    e.admin("/admin/commit-budget", "1/10")
    try:
        write(os.path.join(e.mnt, "budget.txt"), b"uses the budget\n")
        e.sync()
        before = len(e.commits())
        e.reset()
        t0 = time.time()
        subprocess.run(["cp", "-r", src, os.path.join(e.mnt, "many")], check=True)
        copy_s = time.time() - t0
        # Paused by a 429: status shows the wait, pending lists what waits.
        paused = pending = None
        deadline = time.time() + 30
        while time.time() < deadline and not (paused and pending):
            st = e.hubfs("status").stdout
            if "paused for the repo's commit budget" in st:
                paused = [l.strip() for l in st.splitlines() if "paused" in l][0]
                p = json.loads(e.hubfs("pending", e.mnt, "--json").stdout)
                if p["changes"] and p["commits_paused_until"] > 0:
                    pending = p["changes"]
            time.sleep(0.3)
        if not paused or not pending:
            fail("no commit pause seen in hubfs status/pending within 30 s")
        files = [c for c in pending if c["kind"] != "new-dir"]
        if not files or not all(c["kind"] == "new" and c["since"] > 0 and c["size"] > 0 and
                                c["path"].startswith("many/") for c in files):
            fail("hubfs pending during the pause: %r" % pending[:3])
        text = e.hubfs("pending", e.mnt).stdout
        if "not yet committed" not in text or files[0]["path"] not in text:
            fail("hubfs pending: %s" % text[:300])
        e.sync()
    finally:
        e.admin("/admin/commit-budget", "")
    made = len(e.commits()) - before
    refused = e.call("GET", "/admin/counters")["hub"].get("commit", {}).get("errors", 0)
    # Each 429 is waited out (Retry-After), not retried at once: no more
    # refusals than commits; and grouped: at most one commit per window.
    if refused < 1 or refused > made or made > 2 + int(copy_s / 10):
        fail("cp -r of 1000 files (%.1f s) under the budget: %d commits, %d refused"
             % (copy_s, made, refused))
    tree = e.tree()
    for i in range(1000):
        if tree.get("many/s%d/f%04d.txt" % (i % 10, i), {}).get("size") != len(
                b"small file %d\n" % i):
            fail("many/s%d/f%04d.txt missing after the budget wait" % (i % 10, i))
    if json.loads(e.hubfs("pending", e.mnt, "--json").stdout)["changes"]:
        fail("hubfs pending lists changes after the sync")
    ok("cp -r of 1000 files (%.1f s) under 1 commit/10 s: %d commits, %d refused with 429; "
       "status showed '%s'; %d files pending listed; all landed" % (
           copy_s, made, refused, paused[:60], len(files)))


if __name__ == "__main__":
    main()
