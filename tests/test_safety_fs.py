"""Files in, files out (issue #11): reads stay inside the project, writes inside --out, procsim replaces or
removes only what it wrote, one writer per folder, no leftovers, and environment failures as plain errors.

Every case runs the real loader, the real run or the real command line (subprocesses where a signal, a lock
held by another process, a file size limit or a full file system is what is being tested).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import MINI
from procsim.errors import SpecError
from procsim.outdir import FolderError, RunFolder
from procsim.run import run
from procsim.sinks.base import SinkContext
from procsim.sinks.csv import CsvSink
from procsim.spec import load_process

REPO = Path(__file__).resolve().parents[1]
P2P_TEXT = (REPO / "processes" / "procure_to_pay.yaml").read_text(encoding="utf-8")


def cli(*args: str | Path, cwd: Path | None = None, timeout: float = 300,
        **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, check=False, **kw)  # type: ignore[call-overload]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of this repository's layout: processes/, rules/, templates/ side by side in tmp/proj."""
    proj = tmp_path / "proj"
    for d in ("processes", "rules", "templates"):
        shutil.copytree(REPO / d, proj / d)
    return proj


def p2p(project: Path, text: str, name: str = "p.yaml") -> Path:
    p = project / "processes" / name
    p.write_text(text, encoding="utf-8")
    return p


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def problems(path: Path, root: Path | None = None) -> list[str]:
    from procsim.documents import check_documents
    from procsim.sim.build import attribute_types

    try:
        lp = load_process(path, root)
        found = check_documents(lp, attribute_types(lp.spec))
    except SpecError as e:
        return [str(p) for p in e.problems]
    return [str(p) for p in found]


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry below ``folder``, byte for byte (symlinks by their target)."""
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = p.read_bytes()
        else:
            out[rel] = "dir"
    return out


def check_manifest(out: Path) -> dict:
    """The manifest describes exactly the bytes in the folder: every sha256 and size."""
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["files"]
    for name, meta in m["files"].items():
        p = out / "documents" / name if name == "index.csv" else out / name
        data = p.read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
        assert len(data) == meta["bytes"], name
    return m


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or ".part-" in p.name)


# -- reads stay inside the project ----------------------------------------------------------------------


def test_project_root_is_the_parent_of_processes_or_the_process_folder(tmp_path: Path) -> None:
    from procsim.spec.paths import project_root

    assert project_root(tmp_path / "proj" / "processes" / "p.yaml") == (tmp_path / "proj").resolve()
    assert project_root(tmp_path / "flat" / "p.yaml") == (tmp_path / "flat").resolve()
    assert project_root(tmp_path / "flat" / "p.yaml", tmp_path) == tmp_path.resolve()


def test_rule_files_outside_the_project_are_refused_all_at_once(project: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.chdir(project)
    (project / "rules" / "evil.yaml").symlink_to("/etc/passwd")
    text = P2P_TEXT.replace("rules: [../rules/procure_to_pay.yaml]",
                            "rules: [/etc/passwd, ../../../../../../etc/hostname, ../rules/evil.yaml, "
                            "../rules/procure_to_pay.yaml]")
    got = problems(p2p(project, text))
    n = line_of(text, "rules: [/etc")
    root = project.resolve()
    widen = "a process reads only files inside its project (give --root to widen it on purpose) [outside_project]"
    assert got == [
        f"processes/p.yaml:{n}:9: rules[0]: rule file '/etc/passwd' is outside the project folder {root}; {widen}",
        f"processes/p.yaml:{n}:22: rules[1]: rule file '../../../../../../etc/hostname' is outside the project "
        f"folder {root}; {widen}",
        f"processes/p.yaml:{n}:54: rules[2]: rule file '../rules/evil.yaml' is outside the project folder {root} "
        f"(through a symbolic link); {widen}",
    ]


def test_templates_outside_the_project_or_not_j2_are_refused(project: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.chdir(project)
    outside = project.parent / "elsewhere"
    outside.mkdir()
    (outside / "secret.html.j2").write_text("{{ number }} secret\n", encoding="utf-8")
    (project / "templates" / "link.html.j2").symlink_to("/etc/hostname")
    (project / "templates" / "folder.html.j2").mkdir()
    text = (P2P_TEXT.replace("template: ../templates/purchase_order_lines.html.j2", "template: /etc/passwd")
            .replace("template: ../templates/supplier_invoice_lines.html.j2", "template: /proc/self/environ")
            .replace("template: ../templates/payment_advice.md.j2", "template: ../../elsewhere/secret.html.j2"))
    text += ("  a:\n    object: purchase_order\n    template: ../../../../etc/hostname\n"
             "  b:\n    object: purchase_order\n    template: ../templates/link.html.j2\n"
             "  c:\n    object: purchase_order\n    template: ../templates/folder.html.j2\n")
    got = problems(p2p(project, text))
    root = project.resolve()
    widen = "a process reads only files inside its project (give --root to widen it on purpose) [outside_project]"
    at = {k: line_of(text, v) for k, v in (("po", "/etc/passwd"), ("inv", "/proc/self"),
                                           ("pay", "secret.html.j2"), ("a", "etc/hostname"),
                                           ("b", "link.html.j2"), ("c", "folder.html.j2"))}
    assert got == [
        f"processes/p.yaml:{at['po']}:15: documents.purchase_order.template: template '/etc/passwd' must be a '.j2' "
        "file (a template is chosen by its extension) [bad_suffix]",
        f"processes/p.yaml:{at['inv']}:15: documents.supplier_invoice.template: template '/proc/self/environ' must "
        "be a '.j2' file (a template is chosen by its extension) [bad_suffix]",
        f"processes/p.yaml:{at['pay']}:15: documents.payment_advice.template: template "
        f"'../../elsewhere/secret.html.j2' is outside the project folder {root}; {widen}",
        f"processes/p.yaml:{at['a']}:15: documents.a.template: template '../../../../etc/hostname' must be a '.j2' "
        "file (a template is chosen by its extension) [bad_suffix]",
        f"processes/p.yaml:{at['b']}:15: documents.b.template: template '../templates/link.html.j2' is outside the "
        f"project folder {root} (through a symbolic link); {widen}",
        f"processes/p.yaml:{at['c']}:15: documents.c.template: template '../templates/folder.html.j2' is a folder, "
        "not a file [not_a_file]",
    ]


def test_root_widens_the_project_on_purpose(project: Path) -> None:
    shared = project.parent / "shared_templates"
    shared.mkdir()
    shutil.copy(project / "templates" / "payment_advice.md.j2", shared / "advice.md.j2")
    text = P2P_TEXT.replace("template: ../templates/payment_advice.md.j2",
                            "template: ../../shared_templates/advice.md.j2")
    p = p2p(project, text)
    done = cli("validate", p)
    assert done.returncode == 2, done.stderr
    assert "documents.payment_advice.template: template '../../shared_templates/advice.md.j2' is outside the " \
           "project folder" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("validate", p, "--root", project.parent)
    assert done.returncode == 0, done.stderr
    # a link that stays inside the project is fine
    (project / "templates" / "alias.md.j2").symlink_to(project / "templates" / "payment_advice.md.j2")
    text = P2P_TEXT.replace("template: ../templates/payment_advice.md.j2", "template: ../templates/alias.md.j2")
    assert problems(p2p(project, text)) == []


def test_a_refused_template_is_never_rendered_into_the_output(project: Path, tmp_path: Path) -> None:
    text = P2P_TEXT.replace("template: ../templates/payment_advice.md.j2", "template: /proc/self/environ")
    out = tmp_path / "out"
    done = cli("run", p2p(project, text), "--out", out, "--format", "documents", "--cases", "5", "-q",
               env={**os.environ, "PROCSIM_SECRET": "s3cr3t"})
    assert done.returncode == 2
    assert done.stderr.startswith(f"{project / 'processes' / 'p.yaml'}:")
    assert not out.exists()


# -- writes stay inside --out ---------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "why"), [
    ("{tmp}/abs/ABS-{{n:06d}}", "makes ids with a path separator '/'"),
    ("../../../../x/X-{{n:06d}}", "makes ids with a path separator '/'"),
    ("X-{{n:/>8}}", "makes ids with a path separator '/'"),
    ("..\\\\X-{{n}}", "makes ids with a path separator '\\\\'"),
    ("..X-{{n}}", "makes ids starting with '.'"),
    (".hidden-{{n}}", "makes ids starting with '.'"),
    ("PO\\e[31m-{{n}}", "makes ids with a control character '\\x1b'"),
    ("W" * 99 + "-{{n}}", "makes ids over 100 characters"),
])
def test_number_patterns_must_make_safe_file_names(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   pattern: str, why: str) -> None:
    monkeypatch.chdir(project)
    value = pattern.format(tmp=tmp_path)
    text = P2P_TEXT.replace('number: "PO-{n:06d}"', f'number: "{value}"')
    got = problems(p2p(project, text))  # a width of 10**8 is refused by procsim.limits first (tests/badinputs)
    n = line_of(text, f'number: "{value}"')
    assert len(got) == 1 and got[0].startswith(f"processes/p.yaml:{n}:13: objects.purchase_order.number: "
                                               "number pattern "), got
    assert why in got[0] and got[0].endswith("[unsafe_number]")


def test_no_document_is_written_outside_out(project: Path, tmp_path: Path) -> None:
    text = (P2P_TEXT.replace('number: "PO-{n:06d}"', f'number: "{tmp_path}/abs/ABS-{{n:06d}}"')
            .replace('number: "INV-{n:06d}"', 'number: "../../../../x/X-{n:06d}"'))
    out = tmp_path / "out"
    done = cli("run", p2p(project, text), "--out", out, "--format", "documents", "--cases", "5", "-q")
    assert done.returncode == 2
    assert done.stderr.count("[unsafe_number]") == 2  # every problem at once
    assert not (tmp_path / "abs").exists() and not out.exists()


def test_temporaries_are_created_exclusively_never_through_a_link(tmp_path: Path) -> None:
    from procsim.timebase import TimeBase

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    out = tmp_path / "o"
    out.mkdir()
    utc = ZoneInfo("UTC")
    ctx = SinkContext(out_dir=out, timebase=TimeBase(dt.datetime(2026, 1, 1, tzinfo=utc), utc),
                      process_name="p", attr_names=(), attr_types=(), temp_tag="1-deadbeef")
    (out / ".events.csv.1-deadbeef.part").symlink_to(victim)
    with pytest.raises(FileExistsError):
        CsvSink(ctx)
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_links_planted_in_the_output_folder_are_never_followed(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    run(proc, out, seed=1, cases=30, formats=["csv"])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    # links under the temporary names procsim used to write through: cleared as stale, the target untouched
    for name in (".events.csv.part", ".cases.csv.part", ".manifest.json.part", ".labels.csv.123-0badc0de.part"):
        (out / name).symlink_to(victim)
    run(proc, out, seed=2, cases=30, formats=["csv"])
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert parts(out) == []
    check_manifest(out)
    # a link where an output goes: procsim did not write it, so it is neither followed nor replaced
    (out / "events.csv").unlink()
    (out / "events.csv").symlink_to(victim)
    before = snapshot(out)
    with pytest.raises(FolderError, match=r"o/events\.csv: is a symbolic link; procsim did not make it"):
        run(proc, out, seed=3, cases=30, formats=["csv"])
    assert snapshot(out) == before and victim.read_text(encoding="utf-8") == "precious\n"
    (out / "events.csv").unlink()
    (out / ".procsim.lock").symlink_to(victim)
    with pytest.raises(FolderError, match=r"\.procsim\.lock: is a symbolic link"):
        run(proc, out, seed=3, cases=30, formats=["csv"])
    assert victim.read_text(encoding="utf-8") == "precious\n"


# -- procsim owns only what it wrote ----------------------------------------------------------------------


def user_folder(out: Path) -> None:
    """The folder of issue #11: a user's documents and logs that are not procsim's."""
    (out / "documents").mkdir(parents=True)
    (out / "documents" / "index.csv").write_text("my own index\n", encoding="utf-8")
    (out / "documents" / "thesis.docx").write_bytes(b"PK\x03\x04 thesis")
    (out / "ocel.json").write_text('{"mine": true}\n', encoding="utf-8")
    (out / "events.xes").write_text("<log/>\n", encoding="utf-8")


def test_a_folder_procsim_did_not_make_is_refused_and_kept(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    user_folder(out)
    before = snapshot(out)
    done = cli("run", proc, "--out", out, "--cases", "20", "-q")
    assert done.returncode == 2
    assert done.stderr == (f"--out {out}: the folder is not empty and procsim did not make it; choose an empty or "
                           "new folder, or give --force to add procsim's files to it (files procsim did not write "
                           "are never replaced or removed)\n")
    assert snapshot(out) == before


def test_force_adds_files_but_never_replaces_or_removes_the_users(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    user_folder(out)
    before = snapshot(out)
    done = cli("run", proc, "--out", out, "--cases", "20", "-q", "--force")
    assert done.returncode == 0, done.stderr
    after = snapshot(out)
    assert {k: v for k, v in after.items() if k in before} == before  # every user file, byte for byte
    assert sorted(set(after) - set(before)) == ["cases.csv", "events.csv", "manifest.json"]
    check_manifest(out)
    # the same folder is procsim's now; a run with other formats removes procsim's files only
    done = cli("run", proc, "--out", out, "--cases", "20", "-q", "--format", "parquet")
    assert done.returncode == 0, done.stderr
    after = snapshot(out)
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(set(after) - set(before)) == ["cases.csv", "events.parquet", "manifest.json"]
    check_manifest(out)
    # names the user's files hold are refused, every one at once, with --force too
    before = snapshot(out)
    done = cli("run", proc, "--out", out, "--cases", "20", "-q", "--force", "--format", "xes,ocel-json,documents")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{out}/events.xes: exists and procsim did not write it",
        f"{out}/ocel.json: exists and procsim did not write it",
        f"{out}/documents: exists and procsim did not write it",
        "move them elsewhere or choose another --out (procsim replaces only files an earlier procsim run wrote)"]
    assert snapshot(out) == before


def test_a_failed_run_leaves_the_folder_as_it_was(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    user_folder(out)
    run(proc, out, seed=1, cases=30, formats=["csv", "parquet"], force=True)
    before = snapshot(out)
    # a run failing half-way (the file size limit stops it after part of its output was written): exit 1
    done = subprocess.run([sys.executable, "-m", "procsim", "run", str(proc), "--out", str(out), "--cases", "5000",
                           "-q", "--format", "csv,parquet"], capture_output=True, text=True, timeout=300,
                          preexec_fn=_fsize_limit, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "bug in procsim" not in done.stderr
    assert snapshot(out) == before  # the earlier run's files and manifest, and the user's, byte for byte
    check_manifest(out)


def test_documents_of_an_earlier_run_are_replaced_but_a_user_file_in_them_is_not(project: Path,
                                                                                  tmp_path: Path) -> None:
    proc = project / "processes" / "procure_to_pay.yaml"
    out = tmp_path / "o"
    run(proc, out, seed=1, cases=15, formats=["documents"])
    check_manifest(out)
    (out / "documents" / "thesis.docx").write_bytes(b"mine")
    with pytest.raises(FolderError, match=r"o/documents: holds files procsim did not write \(thesis\.docx\)"):
        run(proc, out, seed=1, cases=15, formats=["documents"])
    # a run without documents removes the earlier run's documents, and leaves the user's file where it was
    run(proc, out, seed=1, cases=15, formats=["csv"])
    assert sorted(p.name for p in (out / "documents").iterdir()) == ["thesis.docx"]
    assert (out / "documents" / "thesis.docx").read_bytes() == b"mine"
    check_manifest(out)


# -- one writer per folder --------------------------------------------------------------------------------


def wait_for(cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_a_second_run_into_a_locked_folder_exits_2_at_once(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    run(proc, out, seed=1, cases=50)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # a run in progress, as the run holds it: the folder's lock, taken by the real RunFolder (deterministic,
    # where a second process racing a fast first run would not be)
    holder = RunFolder(out, ["events.csv", "cases.csv"])
    try:
        second = cli("run", proc, "--out", out, "--cases", "100", "--seed", "2", "-q", timeout=60)
        assert second.returncode == 2
        assert second.stderr == (f"--out {out}: another procsim run is writing into this folder; wait for it to "
                                 "finish or choose another --out\n")
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".procsim.lock"} == before
    finally:
        holder.release()
    assert cli("run", proc, "--out", out, "--cases", "100", "--seed", "2", "-q").returncode == 0  # free again
    m = check_manifest(out)
    assert m["seed"] == 2 and m["counts"]["cases"] == 100


def test_concurrent_runs_never_leave_a_manifest_that_disagrees(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    for _ in range(2):
        procs = [subprocess.Popen([sys.executable, "-m", "procsim", "run", str(proc), "--out", str(out), "--cases",
                                   str(2000 + 500 * seed), "--seed", str(seed), "-q", "--format", "csv,parquet"],
                                  stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
        codes = [p.wait(timeout=300) for p in procs]
        assert sorted(codes) in ([0, 0], [0, 2]), [p.stderr.read() for p in procs if p.stderr]
        for p in procs:
            assert p.stderr is not None
            err = p.stderr.read()
            p.stderr.close()
            assert "Traceback" not in err
        m = check_manifest(out)
        winner = m["seed"]
        assert m["counts"]["cases"] == 2000 + 500 * winner
        assert sum(1 for _ in (out / "cases.csv").open(encoding="utf-8")) == m["counts"]["cases"] + 1
        assert parts(out) == [] and not (out / ".procsim.lock").exists()


# -- leftovers ------------------------------------------------------------------------------------------


def test_sigterm_cleans_up_like_ctrl_c(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    p = subprocess.Popen([sys.executable, "-m", "procsim", "run", str(proc), "--out", str(out), "--cases",
                          "200000", "--format", "csv,parquet,xes", "-q"], stderr=subprocess.PIPE, text=True)
    wait_for(lambda: out.is_dir() and any((out / n).stat().st_size > 0 for n in parts(out)))
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143
    assert err == "terminated: no output was completed\n"
    assert sorted(os.listdir(out)) == []  # no .part files, no lock, no manifest


def test_a_later_run_clears_what_a_killed_run_left(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    run(proc, out, seed=1, cases=30, formats=["csv"])
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    (out / ".notes.part").write_text("mine too: not procsim's naming\n", encoding="utf-8")
    p = subprocess.Popen([sys.executable, "-m", "procsim", "run", str(proc), "--out", str(out), "--cases",
                          "200000", "--format", "csv,parquet,ocel-json", "-q"], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len([n for n in parts(out) if n != ".notes.part"]) >= 4)
    finally:
        p.kill()  # kill -9: no clean-up at all
        p.wait(timeout=60)
    left = [n for n in parts(out) if n != ".notes.part"]
    assert left and (out / ".procsim.lock").exists()
    check_manifest(out)  # the killed run never got to its commit: the earlier run is still complete
    run(proc, out, seed=2, cases=30, formats=["csv"])
    assert parts(out) == [".notes.part"] and (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert sorted(os.listdir(out)) == [".notes.part", "cases.csv", "events.csv", "manifest.json", "notes.txt"]
    check_manifest(out)


def test_stale_temporaries_stay_while_another_run_holds_the_lock(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    with RunFolder(out, ["events.csv"]):
        (out / ".events.csv.99-0badc0de.part").write_text("the running run's\n", encoding="utf-8")
        with pytest.raises(FolderError, match="another procsim run is writing into this folder"):
            run(proc, out, seed=1, cases=10)
        assert (out / ".events.csv.99-0badc0de.part").exists()
    # the holder is gone (as if killed): its temporary is stale now, and the next run clears it
    run(proc, out, seed=1, cases=10)
    assert parts(out) == []
    check_manifest(out)


# -- environment errors -----------------------------------------------------------------------------------


def _fsize_limit() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


def test_a_file_size_limit_is_a_plain_error_naming_the_file(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    done = subprocess.run([sys.executable, "-m", "procsim", "run", str(proc), "--out", str(out), "--cases", "5000",
                           "-q"], capture_output=True, text=True, timeout=300, preexec_fn=_fsize_limit, check=False)
    assert done.returncode == 1
    assert done.stderr == f"{out}/events.csv: cannot write: File too large (the file grew over the size limit)\n"
    assert sorted(os.listdir(out)) == []


def _can_mount() -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, check=False)
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces (a tiny tmpfs)")


def run_on_tmpfs(tmp_path: Path, options: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """procsim run with --out on a tmpfs of its own, mounted in a private mount namespace."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cmd = " ".join(["mount -t tmpfs -o", options, "tmpfs", str(mnt), "&&", "exec", sys.executable, "-m", "procsim",
                    "run", *map(str, args), "--out", str(mnt / "o")])
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", cmd], capture_output=True,
                          text=True, timeout=300, check=False)


@needs_mount
def test_a_full_disk_is_a_plain_error_naming_the_file(write_process, tmp_path: Path) -> None:
    done = run_on_tmpfs(tmp_path, "size=256k", write_process(MINI), "--cases", "5000", "-q")
    assert done.returncode == 1
    assert done.stderr.endswith(": cannot write: No space left on device (the disk is full)\n"), done.stderr
    assert done.stderr.count("\n") == 1 and f"{tmp_path}/mnt/o/" in done.stderr
    assert "Traceback" not in done.stderr and "bug in procsim" not in done.stderr


@needs_mount
def test_an_out_that_cannot_be_written_is_a_plain_error(write_process, tmp_path: Path) -> None:
    done = run_on_tmpfs(tmp_path, "ro,size=64k", write_process(MINI), "--cases", "10", "-q")
    assert done.returncode == 1
    assert done.stderr == (f"{tmp_path}/mnt/o: cannot write: Read-only file system (the file system is "
                           "read-only)\n")


def test_an_out_folder_replaced_during_the_run_gets_nothing_renamed_into_it(write_process, tmp_path: Path) -> None:
    from procsim.outdir import OutputError

    proc = write_process(MINI)
    out, moved, elsewhere = tmp_path / "o", tmp_path / "moved", tmp_path / "elsewhere"
    elsewhere.mkdir()
    swapped = []

    def swap(done: int, total: int | None) -> None:
        if not swapped:  # mid-run, someone puts a link to another folder where --out was
            out.rename(moved)
            out.symlink_to(elsewhere, target_is_directory=True)
            swapped.append(done)

    with pytest.raises(OutputError, match=r"o: the folder was moved or replaced during the run"):
        run(proc, out, seed=1, cases=500, on_progress=swap)
    assert swapped and sorted(os.listdir(elsewhere)) == []
    assert not (moved / "manifest.json").exists()


def test_a_file_changed_since_procsim_wrote_it_is_the_users(write_process, tmp_path: Path) -> None:
    proc = write_process(MINI)
    out = tmp_path / "o"
    run(proc, out, seed=1, cases=30, formats=["csv", "parquet"])
    (out / "events.parquet").write_bytes(b"my edited copy")  # the user's now: another size than the manifest's
    run(proc, out, seed=1, cases=30, formats=["csv"])  # an earlier run's parquet would be removed: not this one
    assert (out / "events.parquet").read_bytes() == b"my edited copy"
    (out / "events.csv").write_bytes(b"mine\n")
    with pytest.raises(FolderError, match=r"o/events\.csv: exists and procsim did not write it"):
        run(proc, out, seed=1, cases=30, formats=["csv"])
    assert (out / "events.csv").read_bytes() == b"mine\n"


def test_an_interrupt_while_the_sinks_are_made_leaves_no_temporary(write_process, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import procsim.run as run_module

    made = run_module._make

    def interrupted(cls, ctx):  # type: ignore[no-untyped-def]
        sink = made(cls, ctx)  # the sink made its temporary, but the run never learns of the sink
        if cls.format == "xes":
            raise KeyboardInterrupt
        return sink

    monkeypatch.setattr(run_module, "_make", interrupted)
    out = tmp_path / "o"
    with pytest.raises(KeyboardInterrupt):
        run(write_process(MINI), out, seed=1, cases=10, formats=["csv", "parquet", "xes"])
    assert sorted(os.listdir(out)) == []
