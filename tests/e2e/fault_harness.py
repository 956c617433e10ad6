"""The fault matrix's harness: hubsim on restartable ports, a hubfs mount
that can be killed, reads in a child with the slowest call timed, and a row
of the table. Used by fault_matrix.py and fault_writes.py."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

TOKEN = "hf_writer_token"
# Storms run with the default --io-timeout (what a user gets); the dead and
# stalled servers with a short one, to time the EIO.
STORM_IO_TIMEOUT = 30
IO_TIMEOUT = 5


class Sim:
    """hubsim on free ports; restartable on the same ports."""

    def __init__(self, args, w):
        self.args, self.w = args, w
        self.data = os.path.join(w, "data")
        self.proc = None
        self.ports = None

    def start(self, *extra):
        listen = "127.0.0.1:%d" % (self.ports[0] if self.ports else 0)
        argv = [self.args.hubsim, "serve", "--data", self.data, "--listen", listen,
                "--user", "me:" + TOKEN]
        if self.ports:
            argv += ["--cas-port", str(self.ports[1]), "--data-port", str(self.ports[2])]
        log = open(os.path.join(self.w, "hubsim.log"), "a")
        self.proc = subprocess.Popen(argv + list(extra), stdout=subprocess.PIPE, stderr=log,
                                     text=True)
        lines = [self.proc.stdout.readline() for _ in range(3)]
        if not lines[0].startswith("hubsim listening on "):
            raise RuntimeError("hubsim did not start: %r" % lines)
        self.url = lines[0].split()[3]
        self.ports = [int(l.split()[-1].rsplit(":", 1)[1]) for l in lines]

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def call(self, method, path, body=None, raw=False):
        data = body.encode() if isinstance(body, str) else (
            json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + TOKEN)
        with urllib.request.urlopen(req, timeout=60) as r:
            out = r.read()
        return out if raw else (json.loads(out) if out else None)

    def faults(self, spec):
        self.call("POST", "/admin/faults", spec or "")

    def tree_files(self, path, rev="main"):
        """{path: oid} of every file under `path` at `rev`, following the
        listing's pages (a page holds at most 1 000 entries)."""
        url = self.url + "/api/models/me/m/tree/%s/%s?recursive=true" % (rev, path)
        files = {}
        while url:
            req = urllib.request.Request(url)
            req.add_header("Authorization", "Bearer " + TOKEN)
            with urllib.request.urlopen(req, timeout=60) as r:
                for e in json.loads(r.read()):
                    if e["type"] == "file":
                        files[e["path"]] = e.get("oid", "")
                link = r.headers.get("Link") or ""
            url = None
            if 'rel="next"' in link:
                url = link.split(">", 1)[0].lstrip("<")
        return files


class Mount:
    def __init__(self, args, sim, w, name, io_timeout=IO_TIMEOUT):
        self.args, self.sim = args, sim
        self.io_timeout = io_timeout
        # A read(2) may wait for two FUSE requests (the kernel retries a
        # failed readahead once), each bounded by --io-timeout.
        self.hang_bound = 2 * io_timeout + 2
        slug = "".join(c if c.isalnum() else "-" for c in name)
        self.mnt = os.path.join(w, "mnt-" + slug)
        self.stuck_in = []  # kernel_waits() of each killed daemon left stuck
        self.freed = []  # the same for those `hubfs unmount` freed
        self.cache = os.path.join(w, "cache-" + slug)
        os.makedirs(self.mnt, exist_ok=True)

    def env(self):
        return dict(os.environ, HF_ENDPOINT=self.sim.url, HF_TOKEN=TOKEN,
                    HF_HOME=os.path.join(self.cache, "hfhome"))

    def mount(self, *extra, check=True):
        p = subprocess.run([self.args.hubfs, "mount", "me/m", self.mnt, "--cache-dir", self.cache,
                            "--io-timeout", str(self.io_timeout)] + list(extra),
                           env=self.env(), capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError("mount: " + p.stderr.strip())
        return p

    def mounted(self):
        with open("/proc/self/mountinfo") as f:
            return any((" %s " % self.mnt) in line for line in f)

    def daemon_pid(self):
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/cmdline" % p, "rb") as f:
                        a = f.read().split(b"\0")
                except OSError:
                    continue
                if b"mount" in a and self.mnt.encode() in a:
                    return int(p)
        return None

    def kill9(self, before_unmount=None):
        """kill -9 of the daemon, torn down as a user would: `hubfs unmount`.
        A killed daemon can stay stuck in the kernel (a thread of it waits
        to invalidate an entry of a directory whose lookup waits for the dead
        daemon, and its /dev/fuse stays open); `hubfs unmount` must then
        abort its connection and free the mount. True when the mount or the
        daemon is still stuck after that (a hang). `before_unmount` runs once
        the daemon is gone, while the dead mount still covers the mountpoint
        (or is detached, but still what an open directory fd reaches)."""
        pid = self.daemon_pid()
        stuck = False
        if pid:
            os.kill(pid, signal.SIGKILL)
            if not wait_exit(pid, 5):
                waits = kernel_waits(pid)
                err = self.hubfs_unmount()
                if wait_exit(pid, 10) and not self.mounted():
                    self.freed.append("%s; %s" % (waits or "?", err.strip()))
                else:
                    stuck = True
                    self.stuck_in.append("%s; hubfs unmount: %s" % (waits or "?", err.strip()))
                    self.abort_connection()  # so that the rest of the matrix can run
        if before_unmount:
            before_unmount()
        if self.mounted():
            self.hubfs_unmount()
        if self.mounted():
            stuck = True
            self.stuck_in.append("still mounted after hubfs unmount")
            self.abort_connection()
            subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)
        return stuck

    def hubfs_unmount(self):
        """`hubfs unmount`, bounded; its stderr."""
        try:
            p = subprocess.run([self.args.hubfs, "unmount", self.mnt], capture_output=True,
                               text=True, timeout=60)
            return p.stderr
        except subprocess.TimeoutExpired:
            return "timed out"

    def abort_connection(self):
        dev = None
        with open("/proc/self/mountinfo") as f:
            for line in f:
                if (" %s " % self.mnt) in line:
                    dev = line.split()[2].split(":")[1]
        conns = "/sys/fs/fuse/connections"
        if not os.listdir(conns):
            subprocess.run(["mount", "-t", "fusectl", "none", conns], capture_output=True)
        if dev and os.path.exists(os.path.join(conns, dev, "abort")):
            with open(os.path.join(conns, dev, "abort"), "w") as f:
                f.write("1")

    def unmount(self):
        if self.mounted():
            subprocess.run([self.args.hubfs, "unmount", self.mnt], capture_output=True,
                           timeout=90)
        if self.mounted():
            subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)
        pid = self.daemon_pid()
        if pid:
            time.sleep(0.5)
            if self.daemon_pid():
                os.kill(pid, signal.SIGKILL)


def kernel_waits(pid):
    """Where the threads of `pid` still wait in the kernel: the distinct
    innermost functions of their kernel stacks (wchan when no stack)."""
    waits = set()
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return ""
    for t in tasks:
        for name in ("stack", "wchan"):
            try:
                with open("/proc/%d/task/%s/%s" % (pid, t, name)) as f:
                    text = f.read().split()
            except OSError:
                continue
            frames = [w.split("+")[0] for w in text if "+0x" in w] if name == "stack" else text
            if frames and frames[0] != "0":
                waits.add(frames[0] if name == "wchan" else "<".join(frames[:3]))
                break
    return ",".join(sorted(waits))


def wait_exit(pid, secs):
    """True once `pid` has exited: gone, or a zombie with no thread left."""
    for _ in range(int(secs * 50)):
        try:
            if len(os.listdir("/proc/%d/task" % pid)) == 0:
                return True
            with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z" and \
                        len(os.listdir("/proc/%d/task" % pid)) == 1:
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def read_file(path, hard_bound):
    """Reads `path` in a child, 1 MiB a call: (data or None, slowest call s, error)."""
    code = ("import os,sys,time\nslow=0.0\nout=[]\nt=time.time()\n"
            "try:\n fd=os.open(sys.argv[1],os.O_RDONLY)\n"
            "except OSError as e:\n sys.stderr.write('open: %s\\nSLOW %f\\n'%(e,time.time()-t));"
            " sys.exit(3)\n"
            "while True:\n t=time.time()\n"
            " try:\n  b=os.read(fd,1<<20)\n"
            " except OSError as e:\n  slow=max(slow,time.time()-t)\n"
            "  sys.stderr.write(str(e)+'\\n'); sys.stdout.buffer.write(b''.join(out));"
            " sys.stderr.write('SLOW %f\\n'%slow); sys.exit(3)\n"
            " slow=max(slow,time.time()-t)\n if not b: break\n out.append(b)\n"
            "sys.stdout.buffer.write(b''.join(out)); sys.stderr.write('SLOW %f\\n'%slow)\n")
    try:
        p = subprocess.run([sys.executable, "-c", code, path], capture_output=True,
                           timeout=hard_bound)
    except subprocess.TimeoutExpired:
        return None, float(hard_bound), "timed out"
    err = p.stderr.decode(errors="replace")
    slow = max([float(l.split()[1]) for l in err.splitlines() if l.startswith("SLOW ")] or [0])
    if p.returncode != 0:
        return p.stdout, slow, err.splitlines()[0] if err else "rc %d" % p.returncode
    return p.stdout, slow, None


def wrong_bytes(got, want):
    """Bytes that differ from the expected prefix (a short read is not wrong)."""
    if got is None:
        return 0
    n = sum(1 for a, b in zip(got, want) if a != b) if got != want[:len(got)] else 0
    return n + max(0, len(got) - len(want))


class Row(dict):
    def __init__(self, name):
        super().__init__(case=name, ops=0, ok=0, wrong=0, hangs=0, lost=0, dups=0, left=0,
                         secs=0.0, note="")
