"""End to end: `genfleet up` runs the whole platform (embedded nats-server, container-svc,
scan-svc, perf-svc, ai-svc and the gateway as child processes) on a test fleet; the CLI
drives it; `genfleet down` stops it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from container_svc.testing import down_all
from genfleet_common.fleet import Fleet
from genfleet_common.natsserver import free_port
from genfleet_common.testing import make_test_fleet

pytestmark = pytest.mark.docker
MODEL = "e-gpt-4o"
BACKEND = "http://127.0.0.1:8111"  # the demo's 5111, moved to 8xxx for this suite


@dataclass
class Platform:
    env: dict[str, str]
    fleet: Path
    url: str
    proc: subprocess.Popen[bytes]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "genfleet_cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("e2e")
    fleet = make_test_fleet(tmp / "fleet", "e-", port_digit=8)
    env = {
        **os.environ,
        "GENFLEET_STATE_DIR": str(tmp / "state"),
        # ai-svc's local model: a small context and short answers keep `analysis` quick
        "GENFLEET_AI_CONTEXT": "1024",
        "GENFLEET_AI_RETRIES": "1",
    }
    env.pop("GENFLEET_SECRET_KEY", None)  # a key of its own, generated on first run
    port = free_port()
    log = (tmp / "up.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genfleet_cli",
            "up",
            "--fleet",
            str(fleet),
            "--port",
            str(port),
            "--nats-port",
            str(free_port()),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    platform = Platform(env, fleet, f"http://127.0.0.1:{port}", proc)
    deadline = time.monotonic() + 90
    while not list((tmp / "state" / "instances").glob("*.json")):
        assert proc.poll() is None, (tmp / "up.log").read_text()
        assert time.monotonic() < deadline, "genfleet up did not get ready"
        time.sleep(0.2)
    yield platform
    if proc.poll() is None:
        proc.terminate()
        proc.wait(60)
    down_all(Fleet.load(fleet).apps())  # whatever the tests did (the platform is gone now)


def test_apps_lists_the_fleet_as_json(platform: Platform) -> None:
    result = platform.cli("apps", "--json")
    assert result.returncode == 0, result.stderr
    apps = json.loads(result.stdout)
    assert {(a["model"], a["app"]) for a in apps} >= {(MODEL, 1), (MODEL, 2)}
    table = platform.cli("apps", MODEL)
    assert table.returncode == 0 and "app1" in table.stdout and "8111" in table.stdout


def test_start_status_logs_and_stop(platform: Platform) -> None:
    started = platform.cli("start", MODEL, "1")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "ok" in started.stdout and "healthy after" in started.stdout

    status = platform.cli("status", MODEL, "1", "--json")
    assert status.returncode == 0, status.stderr
    (app,) = json.loads(status.stdout)
    assert app["state"] == "running" and app["healthy"] is True
    assert {c["answer"] for c in app["containers"]} == {"answering"}
    table = platform.cli("apps", MODEL)
    assert table.returncode == 0 and "answering" in table.stdout

    with urllib.request.urlopen(f"{BACKEND}/api/health?marker=cli-logs", timeout=5) as r:
        assert r.status == 200
    logs = platform.cli("logs", MODEL, "1", "--service", "backend", "--tail", "20")
    assert logs.returncode == 0 and "marker=cli-logs" in logs.stdout + logs.stderr

    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genfleet_cli",
            "logs",
            MODEL,
            "1",
            "--service",
            "backend",
            "--tail",
            "0",
            "-f",
        ],
        env=platform.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(2)  # the follow is open
        urllib.request.urlopen(f"{BACKEND}/api/health?marker=cli-follow", timeout=5).close()
        assert follower.stdout is not None
        deadline = time.monotonic() + 20
        seen = ""
        while "marker=cli-follow" not in seen and time.monotonic() < deadline:
            seen += follower.stdout.readline()
        assert "marker=cli-follow" in seen
    finally:
        follower.terminate()
        follower.wait(10)

    stopped = platform.cli("stop", MODEL)  # the whole model, as a batch
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "0 failed" in stopped.stdout
    status = platform.cli("status", MODEL, "1", "--json")
    assert json.loads(status.stdout)[0]["state"] == "stopped"


def test_batch_progress_then_the_result_by_id(platform: Platform) -> None:
    """A batch over a model: the gateway answers at once, the CLI's bar follows the batch
    events and prints each app as it ends, then the result read by id; --no-wait prints the
    id, and `genfleet batch ID` reads (and follows) it later."""
    model = "e-batch"  # three apps; app3's backend crashes at start
    started = platform.cli("start", model, "--parallelism", "3")
    assert started.returncode == 1, started.stdout + started.stderr  # one app failed
    assert f"ok   {model}/app1" in started.stderr and f"ok   {model}/app2" in started.stderr
    assert f"FAIL {model}/app3" in started.stderr
    assert "backend exited with code 1" in started.stderr  # the per-app result, read by id
    assert f"start {model}: 2 ok, 1 failed in" in started.stdout

    queued = platform.cli("stop", model, "--no-wait", "--json")
    assert queued.returncode == 0, queued.stderr
    status = json.loads(queued.stdout)
    assert status["state"] == "QUEUED" and status["total"] == 3
    watched = platform.cli("batch", status["batch_id"], "--watch", "--json")
    assert watched.returncode == 0, watched.stderr
    final = json.loads(watched.stdout)
    assert final["state"] == "COMPLETE" and sorted(final["succeeded"]) == [
        f"{model}/app{n}" for n in (1, 2, 3)
    ]
    again = platform.cli("batch", status["batch_id"])
    assert again.returncode == 0 and f"stop {model}: 3 ok, 0 failed" in again.stdout

    text = platform.cli("stop", model, "--no-wait")
    assert text.returncode == 0 and "genfleet batch " in text.stdout
    unknown = platform.cli("batch", "no-such-batch")
    assert unknown.returncode == 1 and "no batch no-such-batch" in unknown.stderr
    bad = platform.cli("start", "no-such-model")
    assert bad.returncode == 1 and "unknown model" in bad.stderr
    assert "Traceback" not in bad.stderr + unknown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("start", "no-such-model", "1"), "unknown model"),
        (("start", MODEL, "99"), "app99"),
        (("start", MODEL, "0"), ""),
        (("start", "../etc", "1"), ""),
        (("status", 'bad"name', "1"), ""),
        (("token", "--role", "root"), "unknown role"),
    ],
)
def test_bad_input_is_a_clear_error(
    platform: Platform, args: tuple[str, ...], message: str
) -> None:
    result = platform.cli(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr


def test_a_viewer_token_cannot_act(platform: Platform) -> None:
    viewer = platform.cli("token", "--role", "viewer").stdout.strip()
    result = platform.cli("start", MODEL, "1", "--url", platform.url, "--token", viewer)
    assert result.returncode != 0 and "role" in result.stderr
    assert platform.cli("apps", "--url", platform.url, "--token", viewer).returncode == 0


def test_scan_with_dast_through_the_whole_platform(platform: Platform, tmp_path: Path) -> None:
    """genfleet scan: the worker asks container-svc that the app runs, wapiti attacks its
    backend (only its own URLs), bandit reads its code; the reports are there at the end."""
    assert platform.cli("start", MODEL, "1").returncode == 0
    try:
        result = platform.cli("scan", MODEL, "1", "--tools", "bandit,wapiti", "--watch", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        (status,) = json.loads(result.stdout)
        assert status["state"] == "COMPLETE" and status["counts"]["high"] >= 1
        assert status["tool_status"] == {"bandit": "findings", "wapiti": "findings"}
        assert status["phases"]["spider"] == 100 and status["phases"]["active"] == 100
        report_file = tmp_path / "report.json"
        saved = platform.cli(
            "scan-report", status["scan_id"], "--format", "json", "-o", str(report_file)
        )
        assert saved.returncode == 0, saved.stderr
        report = json.loads(report_file.read_text())
        # the planted SQL injection of gpt-4o/app1 (vulnerabilities.toml, backend/app.py:116):
        # one finding that bandit and wapiti both reported, at bandit's line, with wapiti's
        # request and the source lines wapiti's alert was traced to
        (sqli,) = [
            f
            for f in report["findings"]
            if f["cwe"] == 89
            and f["location"]["parameter"] == "q"
            and "/api/tasks/search" in f["location"]["url"]
        ]
        assert sqli["tools"] == ["bandit", "wapiti"], sqli
        assert (sqli["location"]["file"], sqli["location"]["line"]) == ("backend/app.py", 116)
        assert 116 in [s["line"] for s in sqli["sources"][:3]], sqli["sources"]
        sarif = json.loads(
            platform.cli("scan-report", status["scan_id"], "--format", "sarif").stdout
        )
        assert sarif["version"] == "2.1.0"
        (result,) = [
            r
            for run in sarif["runs"]
            for r in run["results"]
            if r["partialFingerprints"]["genfleet/v1"] == sqli["fingerprint"]
        ]
        assert result["properties"]["tools"] == ["bandit", "wapiti"]
        assert result["webRequest"]["target"].endswith("/api/tasks/search")
        markdown = platform.cli("scan-report", status["scan_id"]).stdout
        assert "corroborated: reported by bandit and wapiti" in markdown

        # scan-diff: the same app scanned by bandit alone; what only wapiti saw is unchecked
        # (not fixed), the SQL injection is less severe without wapiti's word (updated)
        again = platform.cli("scan", MODEL, "1", "--tools", "bandit", "--watch", "--json")
        (second,) = json.loads(again.stdout)
        sarif_file = tmp_path / "diff.sarif"
        compared = platform.cli(
            "scan-diff", status["scan_id"], second["scan_id"], "--json", "--sarif", str(sarif_file)
        )
        assert compared.returncode == 0, compared.stderr
        diff = json.loads(compared.stdout)
        assert diff["same_app"] and not diff["new"] and not diff["fixed"]
        [updated] = diff["updated"]
        assert updated["fingerprint"] == sqli["fingerprint"] and updated["tools"] == ["bandit"]
        assert all(f["tools"] == ["wapiti"] for f in diff["unchecked"]) and diff["unchecked"]
        states = {
            r["baselineState"] for run in json.loads(sarif_file.read_text())["runs"]
            for r in run["results"]
        }  # fmt: skip
        assert states == {"unchanged", "updated"}
        human = platform.cli("scan-diff", status["scan_id"], second["scan_id"]).stdout
        assert "new 0, fixed 0, updated 1, unchanged" in human and "unchecked [" in human
        unknown = platform.cli("scan-diff", status["scan_id"], "nosuchscan")
        assert unknown.returncode == 2 and "no scan nosuchscan" in unknown.stderr
        busy_free = platform.cli("scan-stop", status["scan_id"])
        assert busy_free.returncode == 0 and "COMPLETE" in busy_free.stdout  # over: stays so
    finally:
        platform.cli("stop", MODEL, "1")


def test_scan_of_a_stopped_app_says_dast_could_not_run(platform: Platform) -> None:
    result = platform.cli("scan", MODEL, "2", "--tools", "wapiti", "--watch", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (status,) = json.loads(result.stdout)
    assert status["state"] == "COMPLETE"
    assert status["tool_status"] == {"wapiti": "unavailable"}  # never "no findings"
    assert status["counts"]["high"] == 0


def test_perf_through_the_whole_platform(platform: Platform, tmp_path: Path) -> None:
    """genfleet perf --watch: Locust runs against the app's backend; the result, a chart, the
    history; a stopped app is refused with the reason."""
    refused = platform.cli("perf", MODEL, "2", "--users", "2", "--duration", "3s")
    assert refused.returncode == 2 and "not running" in refused.stderr, refused.stderr
    assert platform.cli("start", MODEL, "1").returncode == 0
    try:
        result = platform.cli(
            "perf", MODEL, "1", "--users", "3", "--duration", "3s",
            "-e", "GET /api/health 2", "-e", "GET /api/tasks", "--watch", "--json",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        res = json.loads(result.stdout)
        assert res["status"]["state"] == "COMPLETE"
        assert {e["name"] for e in res["endpoints"]} == {"/api/health", "/api/tasks"}
        assert res["totals"]["requests"] > 0 and res["totals"]["failures"] == 0
        test_id = res["status"]["test_id"]
        png = tmp_path / "rps.png"
        chart = platform.cli("perf-result", test_id, "--chart", "rps", "-o", str(png))
        assert chart.returncode == 0 and png.read_bytes().startswith(b"\x89PNG")
        history = platform.cli("perf-history", MODEL, "1", "--json")
        assert json.loads(history.stdout)[0]["test_id"] == test_id
    finally:
        platform.cli("stop", MODEL, "1")


def test_spectest_through_the_whole_platform(platform: Platform) -> None:
    """genfleet spectest: perf-svc (started by `genfleet up`) runs the demo fleet's Tavern tests;
    an app that is not running gets errors and no verdict (never "incorrect"); a spec without
    tests is refused with the reason; the summary reports the exception apart."""
    refused = platform.cli("spectest", "e-batch", "3")
    assert refused.returncode == 2 and "no spec tests for app 3" in refused.stderr, refused.stderr
    result = platform.cli("spectest", MODEL, "2", "--reruns", "0", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    res = json.loads(result.stdout)
    assert res["status"]["state"] == "COMPLETE" and res["status"]["verdict"] == "exception"
    assert {c["outcome"] for c in res["checks"]} == {"error"}
    table = platform.cli("spectest-result", res["status"]["spectest_id"])
    assert table.returncode == 0 and "error" in table.stdout
    summary = json.loads(platform.cli("spectest-summary", "--model", MODEL, "--json").stdout)
    (score,) = summary["models"]
    assert score["exceptions"] == 1 and score["judged"] == 0 and score["pass_at_1"] is None


def test_analysis_with_the_local_model(platform: Platform) -> None:
    """genfleet analysis --watch through the whole platform: ai-svc (started by `genfleet up`)
    asks the real local model; the result says what the model really answered."""
    result = platform.cli(
        "analysis", MODEL, "1", "-r", "general-2", "--max-tokens", "24", "--watch", "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"]["state"] == "COMPLETE"
    (r,) = data["results"]
    assert r["requirement"]["id"] == "general-2" and r["status"] in ("verdict", "failed")
    assert r["raw"] and r["completion_tokens"] > 0
    assert "general-2" in result.stderr  # the live progress line
    summary = platform.cli("analysis-summary", MODEL)
    assert summary.returncode == 0 and f"{MODEL}/app1" in summary.stdout
    models = platform.cli("analysis-llms")
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in models.stdout and "available" in models.stdout
    bad = platform.cli("analysis", MODEL, "1", "-r", "nope-1")
    assert bad.returncode == 1 and "unknown requirement" in bad.stderr


def test_campaign_through_the_whole_platform(platform: Platform, tmp_path: Path) -> None:
    """genfleet campaign: campaign-svc (started by `genfleet up`) scans two apps; --watch shows
    the live grid on stderr and the final status on stdout; the same campaign again reuses
    every result; list, status, the controls' refusals say why; the report in a file and on
    stdout; two campaigns compared."""
    result = platform.cli(
        "campaign", "start", MODEL, "--apps", "1-2", "--steps", "scan", "--scan-tools", "bandit",
        "--name", "cli campaign", "--watch", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    status = json.loads(result.stdout)
    cid = status["campaign_id"]
    assert status["state"] == "COMPLETE" and status["counts"]["done"] == 2
    assert status["apps"] == [f"{MODEL}/app1", f"{MODEL}/app2"]

    again = platform.cli(
        "campaign", "start", MODEL, "--apps", "1-2", "--steps", "scan", "--scan-tools", "bandit",
        "--watch",
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "each cell: scan" in again.stderr  # the live grid, as it ended
    assert "2/2 steps ended: 2 done (2 reused)" in again.stdout
    assert f"{MODEL}" in again.stdout and "app1" in again.stdout and "✓" in again.stdout

    listed = platform.cli("campaign", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert cid in [c["campaign_id"] for c in json.loads(listed.stdout)]
    shown = platform.cli("campaign", "status", cid)
    assert shown.returncode == 0 and "campaign " + cid + " 'cli campaign': COMPLETE" in shown.stdout
    queued = platform.cli("campaign", "start", MODEL, "--apps", "1", "--steps", "scan",
                          "--scan-tools", "bandit")  # fmt: skip
    assert queued.returncode == 0 and "genfleet campaign status" in queued.stdout, queued.stderr

    for args, message in [
        (("pause", cid), "has ended"),
        (("rerun-failed", cid), "no failed step"),
        (("status", "nosuchcampaign"), "nosuchcampaign"),
        (("start", "no-such-model"), "no-such-model"),
        (("start", MODEL, "--apps", "7"), "no app 7"),
        (("start", MODEL, "--steps", "scan", "--scan-tools", "nope"), "nope"),
    ]:
        refused = platform.cli("campaign", *args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert message in refused.stderr and "Traceback" not in refused.stderr
    stopped = platform.cli("campaign", "stop", cid)  # over: answered as it is
    assert stopped.returncode == 0 and "COMPLETE" in stopped.stdout

    report = tmp_path / "report.json"
    saved = platform.cli("campaign", "report", cid, "--format", "json", "-o", str(report))
    assert saved.returncode == 0 and f"wrote {report}" in saved.stdout, saved.stderr
    figures = json.loads(report.read_text())["models"][0]
    assert figures["model"] == MODEL and figures["findings_per_app"]["n"] == 2
    latex = platform.cli("campaign", "report", cid, "--format", "latex")
    assert latex.returncode == 0 and "\\begin{tabular}" in latex.stdout, latex.stderr
    bad = platform.cli("campaign", "report", cid, "--format", "pdf")
    assert bad.returncode == 2 and "format" in bad.stderr
    second = re.search(r"campaign (\w+): COMPLETE", again.stdout)
    assert second, again.stdout
    diff = platform.cli("campaign", "diff", cid, second[1])
    assert diff.returncode == 0, diff.stderr
    assert f"against {cid}" in diff.stdout and "findings new in b: 0" in diff.stdout
    as_json = json.loads(platform.cli("campaign", "diff", cid, second[1], "--json").stdout)
    assert as_json["a"]["campaign_id"] == cid and as_json["fixed_findings"] == []


def test_a_token_minted_revoked_and_the_audit_trail(platform: Platform) -> None:
    minted = platform.cli("token", "--role", "viewer", "--sub", "visitor")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    token_id = re.search(r"token id ([0-9a-f]{16})", minted.stderr)
    assert token_id is not None, minted.stderr
    as_visitor = {**platform.env, "GENFLEET_TOKEN": token, "GENFLEET_URL": platform.url}
    apps = subprocess.run(
        [sys.executable, "-m", "genfleet_cli", "apps", "--json"],
        env=as_visitor, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert apps.returncode == 0, apps.stderr

    revoked = platform.cli("token", "--revoke", token_id[1])
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == f"revoked token {token_id[1]}"
    refused = subprocess.run(
        [sys.executable, "-m", "genfleet_cli", "apps", "--json"],
        env=as_visitor, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and f"token {token_id[1]} was revoked" in refused.stderr

    bad = platform.cli("token", "--revoke", "not-an-id")
    assert bad.returncode == 2 and "16 hex digits" in bad.stderr

    trail = platform.cli("audit", "--json", "--limit", "20")
    assert trail.returncode == 0, trail.stderr
    calls = [(r["method"], r["path"], r["status"], r["sub"]) for r in json.loads(trail.stdout)]
    assert ("POST", f"/api/tokens/{token_id[1]}/revoke", 200, "local-admin") in calls
    assert ("POST", "/api/tokens/not-an-id/revoke", 422, "local-admin") in calls
    table = subprocess.run(
        [sys.executable, "-m", "genfleet_cli", "audit"],
        env={**platform.env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert table.returncode == 0 and f"POST /api/tokens/{token_id[1]}/revoke" in table.stdout


def test_metrics_of_every_process(platform: Platform) -> None:
    """Each process `genfleet up` started has metrics, and they show what the tests above did."""
    state = Path(platform.env["GENFLEET_STATE_DIR"])
    groups = json.loads((state / "prometheus-targets.json").read_text())
    targets = {g["labels"]["service"]: g["targets"][0] for g in groups}
    assert set(targets) == {
        "gateway", "container_svc", "scan_svc", "perf_svc", "ai_svc", "campaign_svc"
    }  # fmt: skip
    admin = platform.cli("token", "--role", "viewer").stdout.strip()
    texts: dict[str, str] = {}
    for name, target in targets.items():
        request = urllib.request.Request(
            f"http://{target}/metrics", headers={"Authorization": f"Bearer {admin}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            texts[name] = answer.read().decode()

    def value(name: str, pattern: str) -> float:
        found = re.search(pattern + r" ([0-9.e+]+)$", texts[name], re.MULTILINE)
        assert found is not None, (name, pattern, texts[name][:3000])
        return float(found[1])

    assert (
        value(
            "gateway",
            r'genfleet_http_request_seconds_count\{method="GET",route="/api/apps",status="200"\}',
        )
        > 0
    )
    assert (
        value(
            "gateway",
            r'genfleet_bus_request_seconds_count\{outcome="ok",subject="genfleet.cmd.container.status"\}',
        )
        > 0
    )
    assert (
        value(
            "container_svc",
            r'genfleet_bus_handled_seconds_count\{outcome="ok",subject="genfleet.cmd.container.status"\}',
        )
        > 0
    )
    assert value("container_svc", r"genfleet_engine_available") == 1
    assert (
        value("container_svc", r'genfleet_engine_events_total\{action="start",type="container"\}')
        > 0
    )
    assert value("scan_svc", r'genfleet_jobs_total\{kind="scan",outcome="done"\}') >= 1
    assert value("scan_svc", r'genfleet_tool_runs_total\{outcome="findings",tool="bandit"\}') >= 1
    assert value("perf_svc", r'genfleet_jobs_total\{kind="perf",outcome="done"\}') >= 1
    assert value("scan_svc", r'genfleet_jobs_waiting\{kind="scan"\}') == 0


def test_images_say_what_a_built_app_installed(platform: Platform) -> None:
    """The app the tests above started is built: its images, with the packages in them."""
    result = platform.cli("images", MODEL, "1", "--json")
    assert result.returncode == 0, result.stderr
    images = json.loads(result.stdout)
    backend = next(s for s in images["services"] if s["service"] == "backend")
    assert backend["built"] and backend["image"] == f"genfleet-{MODEL}-app1-backend"
    installed = {p["name"]: p["version"] for p in backend["python"]["packages"]}
    assert installed["Flask"] == "3.1.1"  # what the demo's requirements.txt pins
    table = platform.cli("images", MODEL, "1")
    assert table.returncode == 0, table.stderr
    assert "backend" in table.stdout and "Flask 3.1.1" in table.stdout
    quick = platform.cli("images", MODEL, "1", "--no-packages", "--json")
    assert quick.returncode == 0 and json.loads(quick.stdout)["services"][0]["python"] is None
    missing = platform.cli("images", MODEL, "9")
    assert missing.returncode == 2 and "app9" in missing.stderr


def test_triage_marks_a_finding_and_the_report_shows_it(platform: Platform) -> None:
    """genfleet triage: a false positive set on a scanned finding shows in the scan's report
    (raw and triaged figures), is listed, and bad marks are refused with the reason."""
    result = platform.cli("scan", MODEL, "1", "--tools", "bandit", "--watch", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (status,) = json.loads(result.stdout)
    report = platform.cli("scan-report", status["scan_id"], "--format", "json")
    assert report.returncode == 0, report.stderr
    findings = json.loads(report.stdout)["findings"]
    fingerprint = findings[0]["fingerprint"]

    marked = platform.cli(
        "triage", "set", fingerprint, "false_positive", "--model", MODEL, "--app", "1",
        "--note", "checked by hand",
    )  # fmt: skip
    assert marked.returncode == 0, marked.stderr
    assert "false_positive" in marked.stdout and f"{MODEL}/app1" in marked.stdout
    listed = platform.cli("triage", "list", "--model", MODEL, "--json")
    assert [m["fingerprint"] for m in json.loads(listed.stdout)["marks"]] == [fingerprint]
    shown = platform.cli("scan-report", status["scan_id"], "--format", "md")
    assert "Triaged (without false positives" in shown.stdout
    assert "**false_positive** (app)" in shown.stdout and "checked by hand" in shown.stdout
    triaged = json.loads(platform.cli("scan-report", status["scan_id"], "--format", "json").stdout)
    assert sum(triaged["triaged"].values()) == sum(triaged["status"]["counts"].values()) - 1

    for args, reason in [
        (("0" * 20, "confirmed", "--model", MODEL, "--app", "1"), "never reported by a scan"),
        ((fingerprint, "accepted_risk", "--model", MODEL, "--app", "1"), "needs an expiry"),
        ((fingerprint, "maybe", "--model", MODEL, "--app", "1"), "not one of"),
        ((fingerprint, "confirmed"), "--scope fleet without them"),
        ((fingerprint, "confirmed", "--scope", "fleet", "--model", MODEL), "without them"),
    ]:
        refused = platform.cli("triage", "set", *args)
        assert refused.returncode != 0 and reason in refused.stderr, (args, refused.stderr)
    none_yet = platform.cli("triage", "suggest", MODEL, "1", fingerprint, "--latest")
    assert none_yet.returncode == 2 and "none asked yet" in none_yet.stderr
    asked = platform.cli("triage", "suggest", MODEL, "1", fingerprint, "--json", timeout=400)
    assert asked.returncode == 0, asked.stderr
    suggestion = json.loads(asked.stdout)
    assert suggestion["status"] in ("suggestion", "failed"), suggestion  # the real local model
    shown = platform.cli("triage", "suggest", MODEL, "1", fingerprint, "--latest")
    assert shown.returncode == 0, shown.stderr
    expected = "not a mark" if suggestion["status"] == "suggestion" else "no suggestion (failed)"
    assert expected in shown.stdout, shown.stdout
    fleet_wide = platform.cli("triage", "set", fingerprint, "confirmed", "--scope", "fleet")
    assert fleet_wide.returncode == 0 and " fleet " in fleet_wide.stdout, fleet_wide.stderr
    listed = platform.cli("triage", "list", "--fingerprint", fingerprint, "--json")
    marks = json.loads(listed.stdout)["marks"]
    assert sorted((m["scope"], m["state"]) for m in marks) == [
        ("app", "false_positive"), ("fleet", "confirmed")]  # fmt: skip
    assert platform.cli("triage", "remove", fingerprint).returncode == 0  # the fleet-wide one
    removed = platform.cli("triage", "remove", fingerprint, "--model", MODEL, "--app", "1")
    assert removed.returncode == 0 and "removed" in removed.stdout, removed.stderr
    listed = platform.cli("triage", "list", "--model", MODEL, "--json")
    assert json.loads(listed.stdout)["marks"] == []


def test_doctor_and_down(platform: Platform) -> None:
    """Last in this file: it stops the platform the tests above share."""
    doctor = platform.cli("doctor", "--fleet", str(platform.fleet))
    assert doctor.returncode == 0, doctor.stdout
    assert "Docker engine" in doctor.stdout and "FAIL" not in doctor.stdout
    assert "app network guard" in doctor.stdout  # root here: the packet filter can be set
    down = platform.cli("down")
    assert down.returncode == 0, down.stderr
    assert platform.proc.wait(30) == 0  # stopped cleanly, children drained
    again = platform.cli("apps")
    assert again.returncode != 0 and "no running GenFleet" in again.stderr
