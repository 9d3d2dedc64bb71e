"""``make fuzz``: the long fuzzing runs, each bounded in time.

    python tests/fuzz/run.py [cards] [lists] [api] [--seconds N] [--out DIR]

- ``cards``, ``lists``: coverage-guided atheris (libFuzzer) on the targets of
  tests/fuzz/targets.py, seeded with real inputs; each in a process of its own, since
  libFuzzer exits when its time is up. A finding is written to ``OUT/crashes-TARGET/`` with
  its traceback in ``OUT/TARGET.log``; the corpus grows in ``OUT/corpus-TARGET/``.
- ``api``: schemathesis' CLI against ``kiosk/openapi.yaml`` on a real ``passport serve`` on
  a free loopback port, with a fresh store, the shipped list published and a real API token
  (positive and negative data, stateful links; output in ``OUT/api.log``).

Each run prints one line: its target, seconds, executions and result; the exit status is
non-zero when any run found something. ``FUZZ_SECONDS`` (default 60) sets ``--seconds``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
# What libFuzzer prints when its time is up: "Done 123456 runs in 60 second(s)".
DONE = re.compile(r"Done (\d+) runs in (\d+) second")
# Every schemathesis check that judges one response against the spec; positive_data_acceptance
# is left out because the domain refuses some schema-valid input by meaning (an id not on the
# list, a town not in the gazetteer, a postal code not written as its country writes them).
API_CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_headers_conformance", "response_schema_conformance",
              "negative_data_rejection", "ignored_auth")
ALL = ("cards", "lists", "api")
INSTRUMENTED = {"cards": ["passport"], "lists": ["passport", "openpyxl"]}


def fuzz_child(name: str, seconds: int, out: Path) -> None:
    """In the child process: libFuzzer on one target (never returns)."""
    import atheris

    sys.path.insert(0, str(HERE.parent))
    with atheris.instrument_imports(include=INSTRUMENTED[name]):
        from fuzz import targets
    target, seeds = targets.TARGETS[name]
    corpus = out / f"corpus-{name}"
    crashes = out / f"crashes-{name}"
    for folder in (corpus, crashes):
        folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds():
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    atheris.Setup([sys.argv[0], str(corpus), f"-max_total_time={seconds}", "-timeout=20",
                   "-rss_limit_mb=4096", "-print_final_stats=1",
                   f"-artifact_prefix={crashes}/"], target)
    atheris.Fuzz()


def fuzz(name: str, seconds: int, out: Path) -> dict:
    """Run one atheris target in a child process; its summary."""
    log = out / f"{name}.log"
    with log.open("w") as handle:
        code = subprocess.call([sys.executable, __file__, "--child", name,
                                "--seconds", str(seconds), "--out", str(out)],
                               stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    done = DONE.search(log.read_text(errors="replace"))
    return {"target": name, "seconds": int(done[2]) if done else None,
            "executions": int(done[1]) if done else None,
            "result": "ok" if code == 0 else f"FOUND (exit {code}): see {log}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if server.poll() is not None:
            raise SystemExit(f"passport serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"passport serve was not healthy within {deadline_s:.0f} s")


def api(seconds: int, out: Path) -> dict:
    """schemathesis' CLI on a real server on loopback; its summary."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PASSPORT_DB": str(Path(tmp) / "passport.sqlite"),
               "PASSPORT_INSTANCE": str(Path(tmp) / "instance"),
               "PASSPORT_PUBLIC_RATE_LIMIT": "0"}  # the fuzzer is one client address
        token = json.loads(subprocess.check_output(
            [BIN / "passport", "token", "create", "fuzz", "--json"], env=env))["token"]
        port = _free_port()
        log = out / "api.log"
        with log.open("w") as handle:
            server = subprocess.Popen(
                [BIN / "passport", "serve", "--load-default", "--port", str(port)],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait_healthy(f"http://127.0.0.1:{port}/healthz", server, 120)
                started = time.monotonic()
                # One worker: the server has the other core, and CPython 3.11's ast.parse
                # (hypothesis describes its filters with it) can fail in concurrent threads.
                code = subprocess.call(
                    [BIN / "schemathesis", "run", ROOT / "kiosk" / "openapi.yaml",
                     "--url", f"http://127.0.0.1:{port}/api/v1",
                     "-H", f"Authorization: Bearer {token}", "--checks", ",".join(API_CHECKS),
                     "--max-time", str(seconds), "--seed", "1", "--workers", "1",
                     "--output-sanitize", "true", "--no-color"],
                    stdout=handle, stderr=subprocess.STDOUT, cwd=out)
                elapsed = time.monotonic() - started
            finally:
                server.terminate()
                server.wait(timeout=30)
    text = log.read_text(errors="replace")
    counted = re.search(r"(\d+) generated", text)
    return {"target": "api", "seconds": round(elapsed),
            "executions": int(counted[1]) if counted else None,
            "result": "ok" if code == 0 else f"FOUND (exit {code}): see {log}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="{cards,lists,api}",
                        help="what to fuzz (default: all three)")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", 60)))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "fuzz")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = set(args.targets) - set(ALL)
    if unknown:
        parser.error(f"unknown target {sorted(unknown)[0]!r}; choose from {', '.join(ALL)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        fuzz_child(args.child, args.seconds, args.out.resolve())
    failed = False
    for name in args.targets or ALL:
        summary = (api if name == "api" else
                   lambda s, o, n=name: fuzz(n, s, o))(args.seconds, args.out.resolve())
        print(json.dumps(summary), flush=True)
        failed |= summary["result"] != "ok"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
