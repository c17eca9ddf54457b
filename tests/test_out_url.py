"""``--out`` as an fsspec URL (issue #14): file:// is a local folder with every rule of procsim.outdir; other URLs
(memory:// here, s3:// with the s3 extra) get the run's files copied from a local staging folder, the manifest
last, never touching files procsim did not write; bad URLs exit 2 with a message."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import fsspec
import pandas as pd
import pytest

from conftest import MINI
from procsim.errors import UsageError
from procsim.outdir import FolderError
from procsim.run import run


@pytest.fixture
def mem():
    name = f"procsim-test-{secrets.token_hex(4)}"
    fs = fsspec.filesystem("memory")
    yield fs, name
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


def _remote(fs, root):
    return {p.removeprefix(f"/{root}/"): fs.cat_file(p) for p in fs.find(f"/{root}")}


def test_memory_url_gets_the_local_runs_bytes(write_process, tmp_path, mem):
    fs, name = mem
    p = write_process(MINI)
    res = run(p, f"memory://{name}/run", seed=3, cases=40, formats=["csv", "parquet"])
    run(p, tmp_path / "local", seed=3, cases=40, formats=["csv", "parquet"])
    got = _remote(fs, f"{name}/run")
    assert sorted(got) == sorted(x.name for x in (tmp_path / "local").iterdir())
    for n, data in got.items():
        if n != "manifest.json":
            assert data == (tmp_path / "local" / n).read_bytes(), n
    m = json.loads(got["manifest.json"])
    assert m["files"] == json.loads((tmp_path / "local" / "manifest.json").read_text())["files"]
    assert res.out_dir == f"memory://{name}/run" and f"memory://{name}/run/manifest.json" in res.files
    assert res.cases == 40


def test_sharded_run_to_a_url_with_workers_and_a_dataset(write_process, tmp_path, mem):
    fs, name = mem
    p = write_process(MINI)
    url = f"memory://{name}/big"
    run(p, url, seed=3, cases=60, replications=3, workers=2, formats=["csv", "parquet"], parquet_layout="dataset")
    run(p, tmp_path / "local", seed=3, cases=60, replications=3, workers=1, formats=["csv", "parquet"],
        parquet_layout="dataset")
    got = _remote(fs, f"{name}/big")
    assert "events.parquet/part-00001-R02.parquet" in got
    for n, data in got.items():
        if n != "manifest.json":
            assert data == (tmp_path / "local" / n).read_bytes(), n
    # readers take the URL: the dataset in one call
    pd.testing.assert_frame_equal(pd.read_parquet(f"{url}/events.parquet"),
                                  pd.read_parquet(tmp_path / "local" / "events.parquet"))


def test_remote_ownership(write_process, mem):
    fs, name = mem
    p = write_process(MINI)
    url = f"memory://{name}/o"
    run(p, url, seed=1, cases=20, formats=["csv", "parquet"])
    run(p, url, seed=1, cases=20, formats=["xes"])  # a later run removes what the earlier one wrote and it does not
    assert sorted(_remote(fs, f"{name}/o")) == ["cases.csv", "events.xes", "manifest.json"]
    fs.pipe_file(f"/{name}/o/notes.txt", b"mine")
    run(p, url, seed=1, cases=20, formats=["csv"])
    assert fs.cat_file(f"/{name}/o/notes.txt") == b"mine"  # never touched
    # a location with files and no procsim manifest: refused, unless --force; a foreign name is never replaced
    fs.pipe_file(f"/{name}/other/events.csv", b"a user's log")
    with pytest.raises(FolderError, match="not empty and procsim did not write it"):
        run(p, f"memory://{name}/other", seed=1, cases=20)
    with pytest.raises(FolderError, match=r"other/events\.csv: exists and procsim did not write it"):
        run(p, f"memory://{name}/other", seed=1, cases=20, force=True)
    assert fs.cat_file(f"/{name}/other/events.csv") == b"a user's log"
    assert not fs.exists(f"/{name}/other/manifest.json")


def test_file_url_is_a_local_folder(write_process, tmp_path):
    p = write_process(MINI)
    res = run(p, f"file://{tmp_path / 'f'}", seed=2, cases=20)
    run(p, tmp_path / "g", seed=2, cases=20)
    assert res.out_dir == tmp_path / "f"
    assert (tmp_path / "f" / "events.csv").read_bytes() == (tmp_path / "g" / "events.csv").read_bytes()
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "mine.txt").write_text("x")
    with pytest.raises(FolderError, match="not empty and procsim did not make it"):
        run(p, f"file://{tmp_path / 'h'}", seed=2, cases=20)


@pytest.mark.parametrize("url, msg", [
    ("nosuchfs://bucket/x", "--out nosuchfs://bucket/x: not an output location procsim can write"),
    ("file://otherhost/x", "a file:// URL names a local folder"),
    ("memory://", "give a folder inside the location"),
])
def test_bad_urls(write_process, url, msg):
    with pytest.raises(UsageError, match=msg):
        run(write_process(MINI), url, cases=5)


def test_cli_url_and_bad_url(write_process, tmp_path):
    p = write_process(MINI)
    r = subprocess.run([sys.executable, "-m", "procsim", "run", str(p), "--cases", "10", "--quiet",
                        "--out", f"file://{tmp_path / 'c'}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "c" / "manifest.json").is_file()
    r = subprocess.run([sys.executable, "-m", "procsim", "run", str(p), "--cases", "10", "--out", "nosuchfs://b/x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not an output location" in r.stderr


def test_s3_without_the_extra_says_how_to_install(write_process, tmp_path):
    try:
        import s3fs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("s3fs is installed here: the message for a missing extra cannot show")
    with pytest.raises(UsageError, match=r"pip install 'procsim\[s3\]'"):
        run(write_process(MINI), "s3://some-bucket/run1", cases=5)
