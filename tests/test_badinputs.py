"""The bad-input corpus (tests/badinputs/index.yaml): every case ends quickly, small, with its exit code and message.

Each case runs the real command line (``procsim.cli.main``) in a subprocess of its own, in a fresh folder holding
only its files, under an address-space limit (RLIMIT_AS, 500 MB) and a 10 s timeout: a regression to a hang or a
memory bomb fails its case instead of stalling the suite or the machine. No traceback and no "internal error" may
reach the user.

Starting Python and importing procsim's libraries costs about a second of CPU, more than most cases: so one helper
process imports them once and forks a child per case (the child gets the limit, its folder, its arguments; the
helper kills it at the timeout). A fork is a real process: the limits and the timeout hold as for a fresh one,
and ``test_a_good_run_fits_the_same_limits`` runs ``python -m procsim`` from scratch under the same limits.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

BAD = Path(__file__).resolve().parent / "badinputs"
CASES: list[dict[str, Any]] = YAML(typ="safe").load((BAD / "index.yaml").read_text(encoding="utf-8"))
LIMIT_BYTES = 500 * 2**20
TIMEOUT_S = 10
# RLIMIT_AS limits address space, not memory in use: keep the libraries from reserving space they never touch
# (Arrow's jemalloc pool reserves about 1 GB up front; glibc reserves 64 MB per thread arena)
QUIET_ALLOCATORS = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "1", "OPENBLAS_NUM_THREADS": "1",
                    "OMP_NUM_THREADS": "1"}


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def _setup(case: dict[str, Any], where: Path) -> None:
    for name in case.get("files", []):
        src, dst = BAD / name, where / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)
    if "template" in case:
        shutil.copyfile(BAD / "doc_process.yaml", where / "p.yaml")
        shutil.copyfile(BAD / case["template"], where / "doc.md.j2")


# the helper: reads one JSON request a line, forks a child per request, answers with the child's exit code
_FORKER = r"""
import json, os, resource, sys, time, traceback
import procsim.cli, procsim.run, procsim.explain, procsim.export, procsim.spec, procsim.documents
import procsim.sim.build

limit = int(sys.argv[1])
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.chdir(req["cwd"])
            for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            sys.argv = ["procsim", *req["args"]]
            try:
                procsim.cli.main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    deadline = time.monotonic() + req["timeout"]
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            timed_out, status = True, 0
            break
        time.sleep(0.005)
    print(json.dumps({"rc": None if timed_out else os.waitstatus_to_exitcode(status)}), flush=True)
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PROCSIM_DEBUG"} | QUIET_ALLOCATORS


@pytest.fixture(scope="module")
def forker() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", _FORKER, str(LIMIT_BYTES)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=_env())
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def fork_case(forker: subprocess.Popen[str], case: dict[str, Any], where: Path, logs: Path
              ) -> subprocess.CompletedProcess[str]:
    _setup(case, where)
    assert forker.stdin is not None and forker.stdout is not None
    out, err = logs / "stdout", logs / "stderr"
    forker.stdin.write(json.dumps({"cwd": str(where), "args": case["args"], "stdout": str(out), "stderr": str(err),
                                   "timeout": TIMEOUT_S}) + "\n")
    forker.stdin.flush()
    answer = json.loads(forker.stdout.readline())
    if answer["rc"] is None:
        pytest.fail(f"{case['id']}: still running after {TIMEOUT_S} s (a hang?)")
    read = lambda p: p.read_text(encoding="utf-8", errors="surrogateescape") if p.exists() else ""  # noqa: E731
    return subprocess.CompletedProcess(case["args"], answer["rc"], read(out), read(err))


def run_case(case: dict[str, Any], where: Path) -> subprocess.CompletedProcess[str]:
    """A fresh ``python -m procsim`` under the same limits."""
    _setup(case, where)
    env = _env()
    try:
        return subprocess.run([sys.executable, "-m", "procsim", *case["args"]], cwd=where, capture_output=True,
                              text=True, errors="surrogateescape", timeout=TIMEOUT_S, preexec_fn=_limit, env=env,
                              check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case['id']}: still running after {TIMEOUT_S} s (a hang?)")


def test_the_index_is_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for c in CASES:
        assert set(c) <= {"id", "args", "exit", "message", "files", "template", "stream", "absent", "note"}, c["id"]
        assert c["message"], c["id"]
        for name in c.get("files", []) + ([c["template"]] if "template" in c else []):
            assert (BAD / name).exists(), f"{c['id']}: {name} is missing"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case: dict[str, Any], tmp_path: Path, forker: subprocess.Popen[str]) -> None:
    (tmp_path / "case").mkdir()
    done = fork_case(forker, case, tmp_path / "case", tmp_path)
    tmp_path = tmp_path / "case"
    shown = done.stdout if case.get("stream") == "stdout" else done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert "MemoryError" not in done.stderr, done.stderr
    assert done.returncode == case["exit"], f"exit {done.returncode}, expected {case['exit']}:\n{done.stderr}"
    assert case["message"] in shown, shown
    for text in case.get("absent", []):
        assert text not in shown, f"{text!r} in {shown!r}"
    if case["exit"] == 2 and case.get("stream") != "stdout":
        # a refused input leaves no output folder behind (the checks come before the run starts)
        assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_good_run_fits_the_same_limits(tmp_path: Path) -> None:
    """The limits leave room for a normal run: a failure above is about the input, not the harness."""
    case = {"id": "good", "args": ["run", "mini.yaml", "--cases", "20", "-q", "-o", "out", "-f",
                                   "csv,parquet,xes,ocel-json,ocel-sqlite"], "files": ["mini.yaml"]}
    done = run_case(case, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "manifest.json").is_file()
