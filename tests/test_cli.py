"""The command line through its real entry point: exit codes, messages, no tracebacks, no half-written output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from conftest import MINI, REPO


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "procsim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


def test_console_script_is_installed():
    exe = shutil.which("procsim")
    assert exe is not None, "pip install -e . puts 'procsim' on PATH"
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for command in ("run", "validate", "graph", "schema"):
        assert command in done.stdout


def test_run_writes_the_log_and_says_so(write_process, tmp_path):
    write_process(MINI)
    done = cli("run", "p.yaml", "--cases", "20", "--seed", "4", "--out", "out", "--format", "csv,parquet",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "cases.csv", "events.csv", "events.parquet", "manifest.json"]
    assert done.stderr.startswith("20 cases, ")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["counts"]["cases"] == 20
    assert manifest["inputs"]["p.yaml"]["sha256"]


def test_quiet_prints_nothing(write_process, tmp_path):
    write_process(MINI)
    done = cli("run", "p.yaml", "--cases", "5", "-q", "--out", "o", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_bad_process_exits_2_with_positions_and_no_output(write_process, tmp_path):
    write_process(MINI.replace("duration: {kind: exponential, mean: 10m}", "duraton: {kind: exponential, mean: 10m}"))
    done = cli("run", "p.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "p.yaml:28:3: activities.register: required key 'duration' is missing [missing]\n"
        "p.yaml:30:5: activities.register.duraton: unknown key; did you mean 'duration'? [extra_forbidden]\n")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_validate_reports_every_file(write_process, tmp_path):
    write_process(MINI, "good.yaml")
    write_process(MINI.replace("role: boss\n    duration: {kind: uniform", "role: bos\n    duration: {kind: uniform"),
                  "bad.yaml")
    done = cli("validate", "good.yaml", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == "good.yaml: ok (4 activities, 3 gateways, 2 roles, 2 attributes)\n"
    assert done.stderr == ("bad.yaml:37:11: activities.check_b.role: unknown role 'bos'; did you mean 'boss'? "
                           "[unknown_role]\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "csvv"], "unknown format 'csvv'; did you mean 'csv'?"),
    (["--horizon", "ten days"], "--horizon: invalid duration 'ten days'"),
    (["--cases", "0"], "--cases must be a positive number"),
    (["--cases", "5", "--horizon", "3d"], "give --cases or --horizon, not both"),
])
def test_bad_flags_exit_2(write_process, tmp_path, args, message):
    write_process(MINI)
    done = cli("run", "p.yaml", "--out", "o", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_option_is_a_click_usage_error(tmp_path):
    done = cli("run", "x.yaml", "--cases", "abc", cwd=tmp_path)
    assert done.returncode == 2
    assert "Invalid value for '--cases'" in done.stderr


def test_horizon_runs_until_arrivals_stop(write_process, tmp_path):
    write_process(MINI)
    done = cli("run", "p.yaml", "--horizon", "2d", "-q", "--out", "o", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["horizon_s"] == 172800 and manifest["cases_requested"] is None
    assert manifest["counts"]["cases"] > 5


def test_graph_dot_and_svg(write_process, tmp_path):
    write_process(MINI)
    done = cli("graph", "p.yaml", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith('digraph "Mini" {')
    assert '"split" [shape=diamond, label="+"' in done.stdout
    assert '"ok" -> "decide" [label="p=0.2, max 2"];' in done.stdout
    done = cli("graph", "p.yaml", "-o", "p.svg", cwd=tmp_path)  # procsim's own layout: Graphviz or not
    assert done.returncode == 0 and (tmp_path / "p.svg").read_text().startswith("<?xml")
    done = cli("graph", "p.yaml", "-o", "p.png", cwd=tmp_path)
    if shutil.which("dot"):
        assert done.returncode == 0 and (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
    else:
        assert done.returncode == 1 and "Graphviz 'dot' is not installed" in done.stderr
        assert (tmp_path / "p.dot").read_text().startswith("digraph")


def test_schema_is_draft7_and_accepts_the_examples():
    done = cli("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    for path in sorted((REPO / "processes").glob("*.yaml")):
        data = json.loads(json.dumps(YAML(typ="safe").load(path.read_text()), default=str))
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], (path.name, errors[:3])
    # the short forms the loader accepts are in the schema too: 'assignment: weighted' for {policy: weighted}
    data = json.loads(json.dumps(YAML(typ="safe").load((REPO / "processes" / "procure_to_pay.yaml").read_text()),
                                 default=str))
    role = next(iter(data["roles"].values()))
    role["assignment"] = "weighted"
    assert [e.message for e in validator.iter_errors(data)] == []
    role["assignment"] = "wieghted"
    assert [e.message for e in validator.iter_errors(data)] != []
    # an editor learns about unknown keys from the schema too
    bad = {"process": {"name": "x", "start": "2026-01-01T00:00:00Z", "nme": 1}}
    assert any("'nme' was unexpected" in e.message for e in validator.iter_errors(bad))


def test_a_rerun_removes_the_earlier_run_s_other_formats(write_process, tmp_path):
    write_process(MINI)
    assert cli("run", "p.yaml", "--cases", "5", "-q", "--out", "o", "-f", "csv,parquet,xes", cwd=tmp_path).returncode == 0
    assert cli("run", "p.yaml", "--cases", "5", "-q", "--out", "o", "-f", "csv", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["cases.csv", "events.csv", "manifest.json"]


def test_out_must_be_a_folder(write_process, tmp_path):
    write_process(MINI)
    (tmp_path / "taken").write_text("x")
    done = cli("run", "p.yaml", "--out", "taken", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("--out taken: a file is in the way; give a folder\n")


def test_documents_through_the_cli_and_gone_on_a_rerun_without_them():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p2p = str(REPO / "processes" / "procure_to_pay.yaml")
        done = cli("run", p2p, "--cases", "30", "-q", "--out", "o", "-f", "csv,documents", cwd=Path(d))
        assert done.returncode == 0, done.stderr
        index = (Path(d) / "o" / "documents" / "index.csv").read_text().splitlines()
        assert index[0] == "document_id,type,case_id,event_id,path,created_at" and len(index) > 30
        assert cli("run", p2p, "--cases", "5", "-q", "--out", "o", cwd=Path(d)).returncode == 0
        assert not (Path(d) / "o" / "documents").exists()


def test_run_help_lists_every_format_and_target_from_the_registries():
    from procsim.registry import summary_of
    from procsim.sinks import REGISTRY, chosen_formats
    from procsim.targets import known_schemes

    done = subprocess.run([sys.executable, "-m", "procsim", "run", "--help"], capture_output=True, text=True,
                          check=False, env={**__import__("os").environ, "COLUMNS": "300"})
    assert done.returncode == 0
    text = " ".join(done.stdout.replace("│", " ").split())
    assert set(chosen_formats()) == set(REGISTRY) - {"cases", "labels", "exceptions", "field-labels"}
    for fmt in chosen_formats():
        assert f"{fmt}: {summary_of(REGISTRY[fmt]).replace('``', '').rstrip('.')}" in text, fmt
    assert f"schemes {', '.join(known_schemes())}," in text
    assert "cases:" not in text  # written when needed, never chosen
