"""The official Python client stack (huggingface_hub, hf_xet, fsspec) against hubsim.

Run by ctest through tests/conformance/with_hubsim.sh, which starts one hubsim
on free loopback ports with the users below and exports HUBSIM_URL and
HUBSIM_DATA. Every test works in repos of its own (unique names), so the tests
are independent; checks on hubsim's counters compare snapshots taken around
the step they measure.

The client reads HF_* variables when it is imported, so they are set here,
before any test module imports huggingface_hub.
"""
import json
import os
import tempfile
import urllib.request
import uuid

import pytest

HUB = os.environ.get("HUBSIM_URL")
if not HUB:
    raise pytest.UsageError("HUBSIM_URL is not set: run through tests/conformance/with_hubsim.sh")

_home = tempfile.mkdtemp(prefix="hubfs-pytest-hfhome.")
os.environ.update({
    "HF_ENDPOINT": HUB,
    "HF_HOME": _home,
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_ETAG_TIMEOUT": "30",
    "HF_HUB_DOWNLOAD_TIMEOUT": "30",
    "DO_NOT_TRACK": "1",
    "HF_TOKEN_PATH": os.path.join(_home, "no-token"),
})
for _k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_XET",
           "HF_XET_CACHE", "HF_HUB_CACHE"):
    os.environ.pop(_k, None)

# Users that with_hubsim.sh registers (see tests/python/CMakeLists.txt).
ME, ME_TOKEN = "me", "hf_test"
EVE, EVE_TOKEN = "eve", "hf_eve"


def randbytes(n, seed):
    """n pseudo-random bytes from a fixed seed (each call site has its own)."""
    import random
    return random.Random(seed).randbytes(n)


def _admin(method, route):
    req = urllib.request.Request(HUB + "/admin/" + route, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


class Counters:
    """hubsim's per-route counters: snapshot() now, diff(before) later."""

    @staticmethod
    def snapshot():
        return _admin("GET", "counters")

    @staticmethod
    def diff(before, after=None):
        """{origin: {route: {field: after - before}}} for the routes that moved."""
        after = after or Counters.snapshot()
        out = {}
        for origin, routes in after.items():
            if not isinstance(routes, dict):
                continue
            for route, fields in routes.items():
                if not isinstance(fields, dict):
                    continue
                old = before.get(origin, {}).get(route, {})
                d = {k: v - old.get(k, 0) for k, v in fields.items() if isinstance(v, (int, float))}
                if any(d.values()):
                    out.setdefault(origin, {})[route] = d
        return out

    @staticmethod
    def requests(d, origin, route):
        return d.get(origin, {}).get(route, {}).get("requests", 0)

    @staticmethod
    def bytes_in(d, origin, route):
        return d.get(origin, {}).get(route, {}).get("bytes_in", 0)

    @staticmethod
    def bytes_out(d, origin):
        return sum(v.get("bytes", 0) for v in d.get(origin, {}).values())


@pytest.fixture(scope="session")
def hub_url():
    return HUB


@pytest.fixture(scope="session")
def hubsim_data():
    return os.environ["HUBSIM_DATA"]


@pytest.fixture(scope="session")
def counters():
    return Counters


@pytest.fixture(scope="session")
def api():
    from huggingface_hub import HfApi
    return HfApi(endpoint=HUB, token=ME_TOKEN)


@pytest.fixture
def repo_name(request):
    """A fresh repo name in the `me` namespace, unique per test."""
    base = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:40].strip("-.")
    return f"{ME}/{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def model_repo(api, repo_name):
    api.create_repo(repo_name)
    return repo_name


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """A fresh, empty HF cache for one test (the client reads the path per call)."""
    from huggingface_hub import constants
    home = tmp_path / "hf_home"
    hub = home / "hub"
    xet = home / "xet"
    hub.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(constants, "HUGGINGFACE_HUB_CACHE", str(hub))
    if hasattr(constants, "HF_XET_CACHE"):
        monkeypatch.setattr(constants, "HF_XET_CACHE", str(xet))
    return home


def pytest_sessionfinish(session, exitstatus):
    import shutil
    shutil.rmtree(_home, ignore_errors=True)
