"""Throughput of the local Hub against plain disk I/O, with the unmodified huggingface_hub client.

Measures, in one run and on the same files:

* download: ``hf_hub_download`` of one SIZE MB file from the server vs reading the same bytes
  from disk (and vs copying them, since a download also writes the file);
* upload: ``upload_folder`` of a folder holding that file (LFS) vs copying the folder;
* server alone: the same download with a bare ``http.client`` reader (no huggingface_hub), to
  separate the server's cost from the client's;
* server alone, upload: the same bytes PUT to a signed LFS upload URL with ``http.client``;
* concurrency: N concurrent ``hf_hub_download`` calls of N different files, every SHA-256 checked;
* Xet vs LFS upload: ``upload_folder`` of the same folder to two new repos, once through Xet
  (hf_xet, default settings) and once through LFS (``HF_HUB_DISABLE_XET=1``), each with a fresh
  client cache, as the ratio of their throughputs (target: Xet >= 0.5x LFS).

The server runs in this process (``LocalHub``, background thread); the client runs in a separate
process because huggingface_hub reads ``HF_ENDPOINT`` at import time. Results are printed as
JSON. Usage::

    python benchmarks/hub/bench_hub.py [--size-mb 200] [--concurrent 8] [--concurrent-mb 32]

The first client runs with ``HF_HUB_DISABLE_XET=1`` (the LFS path) so that its numbers stay
comparable with earlier runs; the Xet comparison runs in its own client processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ocforge.hub import LocalHub

TOKEN = "hf_benchmark_token_000000000"
CHUNK = 1 << 20

CLIENT = r"""
import hashlib, json, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from huggingface_hub import HfApi, hf_hub_download

args = json.loads(sys.argv[1])
api = HfApi()
repo = "bench/data"
out = {}
api.create_repo(repo, repo_type="dataset")
t0 = time.perf_counter()
api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=args["big_dir"])
out["upload_s"] = time.perf_counter() - t0
api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=args["many_dir"])

t0 = time.perf_counter()
path = hf_hub_download(repo, "big/blob.bin", repo_type="dataset")
out["download_s"] = time.perf_counter() - t0
h = hashlib.sha256()
with open(path, "rb") as fh:
    for block in iter(lambda: fh.read(1 << 20), b""):
        h.update(block)
out["download_ok"] = h.hexdigest() == args["big_sha256"]

# The same bytes with a bare stdlib HTTP client: separates server cost from client cost.
import http.client, os
from urllib.parse import urlsplit
url = urlsplit(os.environ["HF_ENDPOINT"])
t0 = time.perf_counter()
conn = http.client.HTTPConnection(url.hostname, url.port)
conn.request("GET", f"/datasets/{repo}/resolve/main/big/blob.bin")
resp = conn.getresponse()
buf = bytearray(8 << 20)
view = memoryview(buf)
n = 0
while (k := resp.readinto(view)):
    n += k
out["raw_get_s"] = time.perf_counter() - t0
out["raw_get_bytes"] = n

# Raw LFS upload of the same bytes (batch + PUT with http.client): the server's receive path
# (hashing, writing, fsync) without huggingface_hub's own hashing and httpx2.
api.create_repo("bench/raw", repo_type="dataset")
big = Path(args["big_dir"]) / "big/blob.bin"
size = big.stat().st_size
conn = http.client.HTTPConnection(url.hostname, url.port)
conn.request(
    "POST",
    "/datasets/bench/raw.git/info/lfs/objects/batch",
    body=json.dumps({"operation": "upload", "transfers": ["basic"],
                     "objects": [{"oid": args["big_sha256"], "size": size}]}),
    headers={"Authorization": "Bearer " + os.environ["HF_TOKEN"],
             "Content-Type": "application/json"},
)
href = urlsplit(json.loads(conn.getresponse().read())["objects"][0]["actions"]["upload"]["href"])
conn.blocksize = 1 << 20
t0 = time.perf_counter()
with open(big, "rb") as fh:
    conn.request("PUT", f"{href.path}?{href.query}", body=fh,
                 headers={"Content-Length": str(size)})
    status = conn.getresponse()
    status.read()
out["raw_put_s"] = time.perf_counter() - t0
out["raw_put_status"] = status.status

def fetch(name):
    p = hf_hub_download(repo, f"many/{name}", repo_type="dataset")
    return name, hashlib.sha256(Path(p).read_bytes()).hexdigest()

t0 = time.perf_counter()
with ThreadPoolExecutor(len(args["many"])) as pool:
    got = dict(pool.map(fetch, args["many"]))
out["concurrent_s"] = time.perf_counter() - t0
out["concurrent_ok"] = got == args["many"]
print(json.dumps(out))
"""


UPLOAD_CLIENT = r"""
import json, sys, time
from huggingface_hub import HfApi, constants
args = json.loads(sys.argv[1])
api = HfApi()
api.create_repo(args["repo"], repo_type="dataset")
t0 = time.perf_counter()
info = api.upload_folder(repo_id=args["repo"], repo_type="dataset", folder_path=args["big_dir"])
print(json.dumps({"upload_s": time.perf_counter() - t0, "commit": info.oid,
                  "xet_disabled": constants.HF_HUB_DISABLE_XET}))
"""


def run_client(code: str, env: dict[str, str], args: dict) -> dict:
    """Run a client script in a new interpreter; the JSON it prints last."""
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"client failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def upload_stats(endpoint: str, repo: str, commit: str) -> dict:
    """The server's accounting of what a commit uploaded (localhub-upload-stats)."""
    url = f"{endpoint}/api/datasets/{repo}/localhub-upload-stats/{commit}"
    with urllib.request.urlopen(url) as resp:  # noqa: S310 (loopback URL built here)
        return json.loads(resp.read())


def xet_vs_lfs(hub: LocalHub, work: Path, big_dir: Path) -> dict:
    """Upload the same folder through LFS and through Xet (fresh caches, new repos)."""
    out: dict = {}
    for mode in ("lfs", "xet"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(hub.client_env(TOKEN))
        env["HF_HOME"] = str(work / f"hf_home_{mode}")
        if mode == "lfs":
            env["HF_HUB_DISABLE_XET"] = "1"
        repo = f"bench/upload-{mode}"
        result = run_client(UPLOAD_CLIENT, env, {"repo": repo, "big_dir": str(big_dir)})
        if result["xet_disabled"] != (mode == "lfs"):
            sys.exit(f"the {mode} client did not run in {mode} mode")
        out[mode] = {**result, "stats": upload_stats(hub.endpoint, repo, result["commit"])}
    return out


def write_random(path: Path, size: int) -> str:
    """Write ``size`` random bytes; return their SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        remaining = size
        while remaining:
            block = os.urandom(min(CHUNK * 8, remaining))
            digest.update(block)
            fh.write(block)
            remaining -= len(block)
    return digest.hexdigest()


def timed_read(path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        while fh.read(CHUNK * 8):
            pass
    return time.perf_counter() - t0


def timed_copy(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copyfile(src, dst)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--concurrent-mb", type=int, default=32)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hubbench-", dir=args.workdir))
    try:
        size = args.size_mb * 1024 * 1024
        big_dir = work / "src_big"
        big_sha = write_random(big_dir / "big/blob.bin", size)
        many_dir = work / "src_many"
        many = {
            f"part-{i}.bin": write_random(
                many_dir / f"many/part-{i}.bin", args.concurrent_mb * 1024 * 1024
            )
            for i in range(args.concurrent)
        }
        read_s = min(timed_read(big_dir / "big/blob.bin") for _ in range(3))
        copy_file_s = timed_copy(big_dir / "big/blob.bin", work / "copy.bin")
        copy_dir_s = timed_copy(big_dir, work / "copy_dir")

        with LocalHub(work / "hub", tokens={TOKEN: "bench"}) as hub:
            env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
            env.update(hub.client_env(TOKEN))
            env["HF_HOME"] = str(work / "hf_home")
            env["HF_HUB_DISABLE_XET"] = "1"  # the LFS path, as in earlier runs of this benchmark
            client_args = {
                "big_dir": str(big_dir),
                "many_dir": str(many_dir),
                "big_sha256": big_sha,
                "many": many,
            }
            client = run_client(CLIENT, env, client_args)
            upload = xet_vs_lfs(hub, work, big_dir)

        mb = size / 1e6
        concurrent_mb = args.concurrent * args.concurrent_mb * 1024 * 1024 / 1e6
        report = {
            "size_mb": args.size_mb,
            "disk_read_MBps": round(mb / read_s, 1),
            "file_copy_MBps": round(mb / copy_file_s, 1),
            "folder_copy_MBps": round(mb / copy_dir_s, 1),
            "hf_hub_download_MBps": round(mb / client["download_s"], 1),
            "upload_folder_MBps": round(mb / client["upload_s"], 1),
            "raw_http_get_MBps": round(mb / client["raw_get_s"], 1),
            "raw_lfs_put_MBps": round(mb / client["raw_put_s"], 1),
            "download_vs_disk_read": round(read_s / client["download_s"], 3),
            "download_vs_file_copy": round(copy_file_s / client["download_s"], 3),
            "raw_http_get_vs_disk_read": round(read_s / client["raw_get_s"], 3),
            "upload_vs_folder_copy": round(copy_dir_s / client["upload_s"], 3),
            "raw_lfs_put_vs_file_copy": round(copy_file_s / client["raw_put_s"], 3),
            "download_sha256_ok": client["download_ok"],
            "concurrent_downloads": args.concurrent,
            "concurrent_total_MB": round(concurrent_mb, 1),
            "concurrent_MBps": round(concurrent_mb / client["concurrent_s"], 1),
            "concurrent_sha256_ok": client["concurrent_ok"],
            "lfs_upload_folder_MBps": round(mb / upload["lfs"]["upload_s"], 1),
            "xet_upload_folder_MBps": round(mb / upload["xet"]["upload_s"], 1),
            "xet_vs_lfs_upload": round(upload["lfs"]["upload_s"] / upload["xet"]["upload_s"], 3),
            "xet_new_xorb_MB": round(upload["xet"]["stats"]["new_xorb_bytes"] / 1e6, 1),
            "lfs_new_MB": round(upload["lfs"]["stats"]["new_lfs_bytes"] / 1e6, 1),
        }
        print(json.dumps(report, indent=2))
        if not (
            client["download_ok"]
            and client["concurrent_ok"]
            and client["raw_get_bytes"] == size
            and client["raw_put_status"] == 200
        ):
            sys.exit("hash mismatch")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
