"""The fault matrix's cases on a --rw mount: kill -9 of the daemon while it
writes, uploads and commits; hubsim restarted mid-commit; a staging disk
that fills up; uploads while Xet tokens and data URLs expire. A mixin of
fault_matrix.Matrix (self.sim, self.files, self.new_mount, self.args)."""
import errno
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.error

from fault_harness import STORM_IO_TIMEOUT, read_file, wrong_bytes

# fsync of a directory on the mount (its root: everything journaled) in a
# child, so that a hang is timed, not suffered.
SYNC = ("import os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY|os.O_DIRECTORY)\n"
        "os.fsync(fd)\nos.close(fd)\n")
# How long a sync may take once the Hub answers again before it counts as
# hung (its own bound, --sync-timeout, is 600 s).
SYNC_BOUND = 120


def write_file(path, data):
    """Writes `data` to `path`; returns once close(2) acknowledged it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view[:1 << 20]):]
    finally:
        os.close(fd)


class WriteCases:
    # --- kill -9 of a --rw daemon while it writes, uploads and commits
    # Writes through a directory fd on the mount: once the daemon is gone they
    # fail (ENOTCONN), never land on the directory beneath it. Prints each
    # index once its file is closed (acknowledged).
    WRITER = ("import os,sys\nmnt,sub=sys.argv[1],sys.argv[2]; base=int(sys.argv[3]);"
              " n=int(sys.argv[4])\n"
              "try:\n os.makedirs(os.path.join(mnt,sub),exist_ok=True)\n"
              " d=os.open(os.path.join(mnt,sub),os.O_RDONLY|os.O_DIRECTORY)\n"
              "except OSError: sys.exit(0)\n"
              "for i in range(n):\n data=(b'%d:'%(base+i))*(2000*(1+(base+i)%7))\n"
              " try:\n  fd=os.open('f%05d.bin'%(base+i),"
              "os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o644,dir_fd=d)\n"
              "  os.write(fd,data)\n  os.close(fd)\n"
              " except OSError: sys.exit(0)\n"
              " print(base+i,flush=True)\n")

    def kill_matrix(self, row, points, commit_delay):
        """kill -9 at `points` seeded moments, in groups of 20 with a cache dir
        (journal, commit budget of 128 an hour) and a folder of their own."""
        rng = random.Random(self.args.seed + 1)
        acked_total = 0
        freed = 0
        for group in range(0, points, 20):
            sub = "k%03d" % group
            m = self.new_mount("rw-%d" % group)
            acked = {}
            base = group * 60
            for point in range(group, min(points, group + 20)):
                m.mount("--rw", "--commit-delay", commit_delay)
                w = subprocess.Popen([sys.executable, "-c", self.WRITER, m.mnt, sub, str(base),
                                      "60"], stdout=subprocess.PIPE, text=True)
                delay = rng.uniform(0.0, 1.2)
                time.sleep(delay)
                outs = []
                if m.kill9(lambda: outs.append(w.communicate(timeout=60)[0])):
                    row["hangs"] += 1
                    row["note"] += "point %d: the killed daemon stayed stuck (%s); " % (
                        point, m.stuck_in[-1] or "?")
                got = [int(line) for line in outs[0].split()]
                for i in got:
                    acked["%s/f%05d.bin" % (sub, i)] = (b"%d:" % i) * (2000 * (1 + i % 7))
                if self.args.verbose:
                    print("    point %d: killed after %.2f s, %d writes acknowledged" %
                          (point, delay, len(got)), file=sys.stderr)
                base += 60
                row["ops"] += 1
                row["ok"] += 1
            self.verify_group(row, m, sub, acked)
            acked_total += len(acked)
            freed += len(m.freed)
            if self.args.verbose:
                for f in m.freed:
                    print("    freed by hubfs unmount: " + f, file=sys.stderr)
        row["note"] += "%d kill points, %d writes acknowledged, %d killed daemons stuck in " \
            "the kernel freed by hubfs unmount; " % (points, acked_total, freed)

    def verify_group(self, row, m, sub, acked):
        """Remounts (which commits what the kills left journaled), syncs, and
        checks every acknowledged write landed, exactly once."""
        before = self.commit_ids()
        m.mount("--rw", "--commit-delay", "0.2")
        fd = os.open(m.mnt, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        m.unmount()
        row["lost"] += self.lost_on_hub(acked)
        row["dups"] += self.no_op_commits(sub, before)

    # --- hubsim killed and restarted while a sync uploads and commits
    def restart_mid_commit(self, row):
        """Rounds of: files written (one of 6 MiB), a sync started with every
        Hub request 300 ms late (preupload, LFS batch, commit, the head read
        after it), hubsim killed after a growing delay - so in each phase in
        turn, the CAS uploads included - and restarted a second later on the
        same ports. Then a round without restarts where half the Hub's
        answers are cut after the request was handled: commits that landed
        without an answer. Each sync must end well (no hang), every
        acknowledged file must be on the Hub once, and no change may be
        committed twice."""
        m = self.new_mount("restart-commit", STORM_IO_TIMEOUT)
        m.mount("--rw", "--commit-delay", "60")
        before = self.commit_ids()
        rng = random.Random(self.args.seed + 2)
        acked, slowest = {}, 0.0
        rounds = [0.1, 0.35, 0.6, 0.85, 1.1, 1.35, None]
        for k, delay in enumerate(rounds):
            d = os.path.join(m.mnt, "rc", str(k))
            os.makedirs(d)
            for i, size in enumerate((6 << 20, 3000, 70000)):
                data = rng.randbytes(size)
                write_file(os.path.join(d, "f%d.bin" % i), data)
                acked["rc/%d/f%d.bin" % (k, i)] = data
            if delay is None:
                self.sim.faults("reset=0.5,only=hub,seed=%d" % self.args.seed)
            else:
                self.sim.faults("latency=300ms,only=hub")
            t0 = time.time()
            sync = subprocess.Popen([sys.executable, "-c", SYNC, m.mnt], stderr=subprocess.PIPE,
                                    text=True)
            if delay is not None:
                time.sleep(delay)
                self.sim.stop()
                time.sleep(1.0)
                self.sim.start()
            row["ops"] += 1
            try:
                _, err = sync.communicate(timeout=SYNC_BOUND)
            except subprocess.TimeoutExpired:
                sync.kill()
                sync.wait()
                row["hangs"] += 1
                row["note"] += "round %d: sync still waiting after %d s; " % (k, SYNC_BOUND)
                continue
            slowest = max(slowest, time.time() - t0)
            if sync.returncode == 0:
                row["ok"] += 1
            else:
                row["note"] += "round %d: sync failed: %s; " % (k, err.strip().splitlines()[-1])
        self.sync_and_unmount(row, m)
        row["lost"] += self.lost_on_hub(acked)
        row["dups"] += self.no_op_commits("rc", before)
        with open(os.path.join(m.cache, "hubfs-mount.log"), errors="replace") as f:
            log = f.read()
        row["note"] += ("%d restarts, slowest sync %.1f s, %d requests retried, %d commit "
                        "attempts failed; " % (len(rounds) - 1, slowest, log.count("; retry "),
                                               log.count(" failed (retrying in ")))

    # --- a staging disk that fills up
    def full_staging_disk(self, row):
        """The cache dir (chunk cache, journal, staging files) on a 24 MiB
        tmpfs: a file larger than the disk fails with ENOSPC (by write or
        close); the files acknowledged before it read back whole and commit
        while the disk is still full; on a full disk again, rm works; once
        the big files are removed the mount writes and commits again. The
        Hub ends with exactly the files the mount shows."""
        m = self.new_mount("fullstaging", STORM_IO_TIMEOUT)
        os.makedirs(m.cache, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", m.cache], check=True)
        try:
            m.mount("--rw", "--commit-delay", "60")
            before = self.commit_ids()
            rng = random.Random(self.args.seed + 3)
            d = os.path.join(m.mnt, "full")
            os.makedirs(d)
            acked = {}
            for i in range(4):
                acked["full/a%d.bin" % i] = rng.randbytes(200000)
                write_file(os.path.join(m.mnt, "full/a%d.bin" % i), acked["full/a%d.bin" % i])
            # Committed before the disk fills again: removing them frees no
            # staging space, so their journal records need new blocks.
            small = ["full/s%02d.bin" % i for i in range(40)]
            for p in small:
                acked[p] = rng.randbytes(100)
                write_file(os.path.join(m.mnt, p), acked[p])
            self.fill_disk(row, d, "big.bin")
            self.check_acked(row, m, acked)
            # A commit needs no new space: it frees the staging files it sent.
            row["ops"] += 1
            t0 = time.time()
            if self.sync(row, m, "sync with the disk full"):
                row["ok"] += 1
                row["note"] += "sync with the disk full %.1f s; " % (time.time() - t0)
            self.fill_disk(row, d, "big2.bin")
            # rm must work on a full disk, or space could not be freed: 41
            # deletions of committed files take more journal than its last
            # block holds (the journal's space reserve pays for them).
            row["ops"] += 1
            try:
                for p in ["full/a3.bin"] + small:
                    os.unlink(os.path.join(m.mnt, p))
                    del acked[p]
                row["ok"] += 1
            except OSError as e:
                row["note"] += "rm with the disk full: %s; " % e
            try:
                with open(os.path.join(m.cache, "hubfs-mount.log")) as f:
                    if "spent the space reserve" in f.read():
                        row["note"] += "the journal's space reserve spent; "
            except OSError:
                pass
            for name in ("big.bin", "big2.bin"):
                os.unlink(os.path.join(d, name))
            acked["full/after.bin"] = rng.randbytes(1 << 20)
            row["ops"] += 1
            write_file(os.path.join(m.mnt, "full/after.bin"), acked["full/after.bin"])
            row["ok"] += 1
            row["ops"] += 1
            if self.sync(row, m, "sync after freeing space"):
                row["ok"] += 1
            self.sync_and_unmount(row, m)
            row["lost"] += self.lost_on_hub(acked)
            extra = sorted(set(self.sim.tree_files("full")) - set(acked))
            if extra:
                row["wrong"] += 1
                row["note"] += "on the Hub but not on the mount: %s; " % ", ".join(extra)
            row["dups"] += self.no_op_commits("full", before)
        finally:
            m.unmount()
            log = os.path.join(m.cache, "hubfs-mount.log")
            if os.path.exists(log):  # the tmpfs takes it away
                shutil.copy(log, os.path.join(self.w, "fullstaging-mount.log"))
            subprocess.run(["umount", "-l", m.cache], capture_output=True)

    def fill_disk(self, row, d, name):
        """Writes `name` in `d` until the disk is full: ENOSPC is expected."""
        row["ops"] += 1
        got = self.fill(os.path.join(d, name), 64)
        if got.startswith("ENOSPC"):
            row["ok"] += 1
        else:
            row["note"] += "%s: 64 MiB on a 24 MiB disk: %s; " % (name, got)

    @staticmethod
    def fill(path, mib):
        """Writes `mib` MiB to `path` a MiB a call; says where it failed."""
        done, block = 0, os.urandom(1 << 20)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for done in range(mib):
                os.write(fd, block)
        except OSError as e:
            os.close(fd)
            return "%s by write after %d MiB" % (errno.errorcode[e.errno], done)
        try:
            os.close(fd)
        except OSError as e:
            return "%s by close" % errno.errorcode[e.errno]
        return "no error"

    # --- uploads while the Xet token and the data URLs expire
    def upload_under_expiry(self, row):
        """A new 12 MiB file (its xorb and shard go up with a write token that
        lives 1 s, 200 ms a request) and 4 KiB changed in the middle of an
        existing 16 MiB file (the commit reads the unchanged bytes through data
        URLs, 70 % of which answer 403 expired), then a sync."""
        m = self.new_mount("upload-expiry", STORM_IO_TIMEOUT)
        m.mount("--rw", "--commit-delay", "60")
        before = self.commit_ids()
        rng = random.Random(self.args.seed + 4)
        self.sim.call("DELETE", "/admin/counters")
        self.sim.faults("expire=0.7,token_ttl=1,latency=200ms,seed=%d" % (self.args.seed + 4))
        acked = {"upd/new.bin": rng.randbytes(12 << 20)}
        row["ops"] += 1
        write_file(os.path.join(m.mnt, "upd/new.bin"), acked["upd/new.bin"])
        row["ok"] += 1
        patch, at = rng.randbytes(4096), 8 << 20
        row["ops"] += 1
        fd = os.open(os.path.join(m.mnt, "upd/base.bin"), os.O_WRONLY)
        try:
            os.pwrite(fd, patch, at)
        finally:
            os.close(fd)
        row["ok"] += 1
        base = self.files["upd/base.bin"]
        acked["upd/base.bin"] = base[:at] + patch + base[at + len(patch):]
        row["ops"] += 1
        if self.sync(row, m, "sync"):
            row["ok"] += 1
        counters = self.sim.call("GET", "/admin/counters")
        if self.args.verbose:
            print("    counters: %s" % json.dumps(counters), file=sys.stderr)
        self.sim.faults("")
        self.sync_and_unmount(row, m)
        row["lost"] += self.lost_on_hub(acked)
        row["dups"] += self.no_op_commits("upd", before)
        self.files["upd/base.bin"] = acked["upd/base.bin"]
        row["note"] += "%d data URLs answered expired, %d Xet tokens issued; " % (
            counters["faults"].get("data", {}).get("expire", 0),
            counters["hub"].get("xet-token", {}).get("requests", 0))

    # --- renames of files just closed, while commits land, under a storm
    def rename_after_close(self, row):
        """Two writers, each creating a new folder, a file in it, closing
        it, and renaming it a moment later, 25 times, with commits every
        0.3 s and the storm of the soak (3 % errors, 1 % resets and cuts).
        Every rename of a file whose close returned must succeed."""
        m = self.new_mount("rename-after-close", STORM_IO_TIMEOUT)
        m.mount("--rw", "--commit-delay", "0.3")
        self.sim.faults("error=0.03,reset=0.01,truncate=0.01,latency=1ms,seed=%d" %
                        (self.args.seed + 10))
        before = self.commit_ids()
        acked, lock = {}, threading.Lock()

        def writer(i):
            rng = random.Random(self.args.seed * 100 + i)
            for k in range(25):
                d = os.path.join(m.mnt, "ra", str(k), str(i))
                os.makedirs(d, exist_ok=True)
                data = rng.randbytes(rng.choice([1024, 50000, 700000]))
                write_file(os.path.join(d, "f.bin"), data)
                time.sleep(rng.random() * 0.6)
                rel = "ra/%d/%d/f" % (k, i)
                with lock:
                    row["ops"] += 1
                try:
                    os.rename(os.path.join(d, "f.bin"), os.path.join(d, "fr.bin"))
                    with lock:
                        row["ok"] += 1
                        acked[rel + "r.bin"] = data
                except OSError as e:
                    with lock:
                        acked[rel + ".bin"] = data
                        row["note"] += "rename %s.bin: %s; " % (rel, e.strerror)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.sync_and_unmount(row, m)
        row["lost"] += self.lost_on_hub(acked)
        row["dups"] += self.no_op_commits("ra", before)

    # --- helpers
    def sync(self, row, m, what):
        """fsync of the mount's root in a child; True when it succeeded."""
        p = subprocess.Popen([sys.executable, "-c", SYNC, m.mnt], stderr=subprocess.PIPE,
                             text=True)
        try:
            _, err = p.communicate(timeout=SYNC_BOUND)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            row["hangs"] += 1
            row["note"] += "%s: still waiting after %d s; " % (what, SYNC_BOUND)
            return False
        if p.returncode != 0:
            row["note"] += "%s: %s; " % (what, (err.strip().splitlines() or ["failed"])[-1])
        return p.returncode == 0

    def sync_and_unmount(self, row, m):
        """Everything journaled committed (faults off), then unmounted."""
        self.sim.faults("")
        self.sync(row, m, "the last sync")
        m.unmount()

    def check_acked(self, row, m, acked):
        """Acknowledged files read back whole through the mount."""
        for path, data in acked.items():
            row["ops"] += 1
            got, slow, err = read_file(os.path.join(m.mnt, path), SYNC_BOUND)
            row["wrong"] += wrong_bytes(got, data)
            if slow > m.hang_bound:
                row["hangs"] += 1
            if err is None and got == data:
                row["ok"] += 1
            else:
                row["note"] += "read %s: %s; " % (path, err or "short read")

    def commit_ids(self):
        return {c["id"] for c in self.sim.call("GET", "/api/models/me/m/commits/main")}

    def lost_on_hub(self, acked):
        """How many of {path: bytes} are missing or different on main."""
        lost = 0
        for path, data in acked.items():
            try:
                got = self.sim.call("GET", "/me/m/resolve/main/" + path, raw=True)
            except urllib.error.HTTPError:
                got = None
            if got != data:
                lost += 1
                if self.args.verbose:
                    print("    lost: " + path, file=sys.stderr)
        return lost

    def no_op_commits(self, sub, before):
        """New commits whose `sub` tree equals their parent's: a change
        committed twice."""
        commits = self.sim.call("GET", "/api/models/me/m/commits/main?limit=100000")
        digests = []
        for c in commits:
            try:
                listing = self.sim.tree_files(sub, c["id"])
            except urllib.error.HTTPError:
                listing = {}  # the folder does not exist yet
            digests.append(hashlib.sha256(json.dumps(sorted(listing.items())).encode()).hexdigest())
            if c["id"] in before:
                break  # the parent of the first new commit
        return sum(1 for a, b in zip(digests, digests[1:]) if a == b)
