"""`make audit`: pip-audit over the pinned versions in constraints.txt.

Exits 1 when the vulnerability service reports a known vulnerability (each printed with its
fixed versions), 0 when it reports none. When the service cannot be reached (no network, or
it answers nothing for any package: PyPI's JSON API is what pip-audit asks by default), it
prints one line saying nothing was checked and exits 0, so CI on a machine without that
service still runs the tests; a real finding always fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
UNREACHABLE = re.compile(r"ConnectionError|NameResolution|Max retries|name resolution|"
                         r"timed out|Connection refused|Network is unreachable", re.I)


def run_audit(service: str) -> tuple[int, dict | None, str]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        done = subprocess.run(
            [sys.executable, "-m", "pip_audit", "-r", str(CONSTRAINTS), "--no-deps",
             "--disable-pip", "--progress-spinner", "off", "--vulnerability-service", service,
             "--format", "json", "--output", str(report)],
            capture_output=True, text=True, timeout=600, check=False)
        data = json.loads(report.read_text()) if report.is_file() and report.stat().st_size \
            else None
    return done.returncode, data, done.stderr


def main() -> int:
    service = sys.argv[1] if len(sys.argv) > 1 else "pypi"
    code, data, stderr = run_audit(service)
    if data is None:
        if UNREACHABLE.search(stderr):
            print(f"audit: the vulnerability service ({service}) could not be reached; "
                  "nothing was checked")
            return 0
        print(f"audit: pip-audit failed: {stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return 1
    dependencies = data.get("dependencies", [])
    checked = [d for d in dependencies if "skip_reason" not in d]
    found = [(d, v) for d in checked for v in d.get("vulns", [])]
    for dependency, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
        print(f"audit: {dependency['name']} {dependency['version']}: {vuln['id']} "
              f"(fixed in {fixes})")
    if found:
        print(f"audit: {len(found)} known vulnerabilities in {CONSTRAINTS.name}", file=sys.stderr)
        return 1
    if not checked:
        print(f"audit: the vulnerability service ({service}) answered for none of the "
              f"{len(dependencies)} pinned packages; nothing was checked")
        return 0
    skipped = len(dependencies) - len(checked)
    print(f"audit: {len(checked)} pinned packages checked, no known vulnerabilities"
          + (f" ({skipped} not found by the service)" if skipped else ""))
    return code if code not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main())
