#!/usr/bin/env python3
"""A mount served through a /dev/fuse descriptor that its caller mounted, as
a Kubernetes CSI node plugin does (the privileged plugin opens /dev/fuse and
mounts it with fd=N; an unprivileged hubfs serves /dev/fd/N).

Checks (each prints "ok: ..."):
- refusals: /dev/fd/N not open, and open but not /dev/fuse;
- the caller's mount(2) with fd=N, then `hubfs mount SOURCE /dev/fd/N`:
  files of a private repo read byte-identical, `hubfs status` shows it;
- the token comes from HF_TOKEN_PATH and is read again when the file
  changes: a revoked token fails the next listing, the restored one works;
- the caller's umount ends the daemon (hubfs does not unmount by itself);
- no file the mount left (cache, log, records) holds the token.

usage: mount_fd_test.py --hubfs BIN --hubsim BIN
"""
import argparse
import ctypes
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "hf_owner_token"
MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print("ok: " + msg, flush=True)


libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def kernel_mount(fd, target):
    data = "fd=%d,rootmode=40000,user_id=0,group_id=0" % fd
    if libc.mount(b"hubfs-fd-test", target.encode(), b"fuse.hubfs", MS_NOSUID | MS_NODEV,
                  data.encode()) != 0:
        fail("mount(2) with %s: %s" % (data, os.strerror(ctypes.get_errno())))


def mounted(target):
    with open("/proc/self/mountinfo") as f:
        return any((" %s " % target) in line for line in f)


def alive(pid):
    """False once the process is gone or a zombie (its parent, init, reaps it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Env:
    def __init__(self, args):
        self.args = args
        self.w = tempfile.mkdtemp(prefix="hubfs-fd-")
        self.mnt = os.path.join(self.w, "mnt")
        os.makedirs(self.mnt)
        self.cache = os.path.join(self.w, "cache")
        self.token_file = os.path.join(self.w, "token")
        log = open(os.path.join(self.w, "hubsim.log"), "w")
        self.sim = subprocess.Popen(
            [args.hubsim, "serve", "--data", os.path.join(self.w, "data"), "--listen",
             "127.0.0.1:0", "--user", "me:" + TOKEN],
            stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.sim.stdout.readline()
        if not line.startswith("hubsim listening on "):
            fail("hubsim did not start")
        self.url = line.split()[3]
        self.env = dict(os.environ, HF_ENDPOINT=self.url, HF_TOKEN_PATH=self.token_file,
                        HUBFS_CACHE_DIR=self.cache, HF_HOME=os.path.join(self.w, "hfhome"))
        for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"):
            self.env.pop(name, None)
        self.set_token(TOKEN)

    def set_token(self, token):
        tmp = self.token_file + ".new"
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, self.token_file)  # as a Secret volume swaps its files

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + TOKEN)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def hubfs(self, *argv, pass_fds=()):
        return subprocess.run([self.args.hubfs] + list(argv), env=self.env, capture_output=True,
                              text=True, timeout=120, pass_fds=pass_fds)

    def daemon_pid(self):
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if b"mount" in args and any(a.startswith(b"/dev/fd/") for a in args) and \
                    self.cache.encode() in args:
                return int(p)
        return None

    def teardown(self):
        try:
            if mounted(self.mnt):
                libc.umount2(self.mnt.encode(), MNT_DETACH)
            pid = self.daemon_pid()
            if pid:
                time.sleep(0.5)
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        finally:
            self.sim.terminate()
            self.sim.wait()
            if not mounted(self.mnt):
                shutil.rmtree(self.w, ignore_errors=True)


def check_refusals(e):
    p = e.hubfs("mount", "me/p", "/dev/fd/97", "--cache-dir", e.cache)
    if p.returncode != 1 or "descriptor 97 is not open" not in p.stderr:
        fail("an unopened /dev/fd/97: exit %d, %r" % (p.returncode, p.stderr))
    null = os.open("/dev/null", os.O_RDWR)
    try:
        p = e.hubfs("mount", "me/p", "/dev/fd/%d" % null, "--cache-dir", e.cache, pass_fds=(null,))
    finally:
        os.close(null)
    if p.returncode != 1 or "is not /dev/fuse" not in p.stderr:
        fail("/dev/null as the descriptor: exit %d, %r" % (p.returncode, p.stderr))
    ok("refused: a descriptor that is not open, one that is not /dev/fuse")


def run(e):
    rng = random.Random(7)
    e.call("POST", "/api/repos/create",
           {"name": "p", "organization": "me", "type": "model", "private": True})
    src = os.path.join(e.w, "src")
    os.makedirs(os.path.join(src, "a"))
    os.makedirs(os.path.join(src, "b"))
    files = {"weights.bin": rng.randbytes(3 << 20), "a/config.json": b'{"x": 1}\n',
             "b/notes.txt": b"hello from b\n"}
    for path, data in files.items():
        with open(os.path.join(src, path), "wb") as f:
            f.write(data)
    p = e.hubfs("upload", "me/p", src, "--quiet")
    if p.returncode != 0:
        fail("upload: " + p.stderr)
    check_refusals(e)

    fd = os.open("/dev/fuse", os.O_RDWR)
    try:
        kernel_mount(fd, e.mnt)
        p = e.hubfs("mount", "me/p", "/dev/fd/%d" % fd, "--cache-dir", e.cache, pass_fds=(fd,))
    finally:
        os.close(fd)  # the daemon holds its own copy
    if p.returncode != 0:
        fail("hubfs mount /dev/fd/%d: %s" % (fd, p.stderr))
    for path in ("weights.bin", "a/config.json"):
        with open(os.path.join(e.mnt, path), "rb") as f:
            if f.read() != files[path]:
                fail(path + " read through the descriptor mount differs")
    if sorted(os.listdir(e.mnt)) != [".gitattributes", "a", "b", "weights.bin"]:
        fail("root listing: %r" % sorted(os.listdir(e.mnt)))
    ok("a private repo read through /dev/fd/%d, byte-identical" % fd)

    st = e.hubfs("status", "--cache-dir", e.cache)
    if "/dev/fd/%d (a descriptor its caller mounted)" % fd not in st.stdout or \
            "me/p" not in st.stdout:
        fail("hubfs status does not show the descriptor mount: %r" % st.stdout)
    ok("hubfs status shows the descriptor mount")

    e.set_token("hf_revoked_token")
    try:
        os.listdir(os.path.join(e.mnt, "b"))
        fail("a listing with a revoked token succeeded")
    except OSError as err:
        revoked_errno = err.errno
    e.set_token(TOKEN)
    if os.listdir(os.path.join(e.mnt, "b")) != ["notes.txt"]:
        fail("the restored token did not list b/")
    with open(os.path.join(e.mnt, "b/notes.txt"), "rb") as f:
        if f.read() != files["b/notes.txt"]:
            fail("b/notes.txt differs")
    ok("the token file is read again: revoked -> %s, restored -> listed"
       % os.strerror(revoked_errno))

    pid = e.daemon_pid()
    if not pid:
        fail("no daemon found for the descriptor mount")
    if libc.umount2(e.mnt.encode(), 0) != 0:
        fail("umount: " + os.strerror(ctypes.get_errno()))
    for _ in range(100):
        if not alive(pid):
            break
        time.sleep(0.1)
    else:
        fail("the daemon still runs 10 s after its caller unmounted")
    ok("the caller's umount ended the daemon")

    # Nothing the mount left behind (cache, mount log, records) holds the token.
    leaks = []
    for top in (e.cache, os.path.join(e.w, "hfhome")):
        for root, _, names in os.walk(top):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    if TOKEN.encode() in f.read():
                        leaks.append(os.path.relpath(path, e.w))
    if leaks:
        fail("the token is written in " + ", ".join(leaks))
    ok("no file the mount left holds the token")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hubfs", required=True)
    ap.add_argument("--hubsim", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        fail("needs root (it calls mount(2) as a CSI node plugin would)")
    e = Env(args)
    try:
        run(e)
    finally:
        e.teardown()
    print("mount_fd_test: ok")


if __name__ == "__main__":
    main()
