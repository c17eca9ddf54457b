"""``--parquet-layout dataset`` (issue #14): a sharded run's Parquet as a folder of the shards' own files, renamed
into place with no merge, read in one call by pandas, pyarrow and dask, listed part by part in the manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pandas as pd
import pyarrow.dataset as pads
import pytest

from conftest import MINI
from procsim.errors import UsageError
from procsim.outdir import FolderError
from procsim.run import run

FORMATS = ["csv", "parquet", "labels-parquet"]
PARTS = ["part-00000-R01.parquet", "part-00001-R02.parquet", "part-00002-R03.parquet"]


def _listing(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_dataset_reads_in_one_call_as_the_merged_file(write_process, tmp_path):
    p = write_process(MINI)
    run(p, tmp_path / "file", seed=4, cases=90, replications=3, workers=1, formats=FORMATS)
    run(p, tmp_path / "ds", seed=4, cases=90, replications=3, workers=1, formats=FORMATS, parquet_layout="dataset")
    merged = pd.read_parquet(tmp_path / "file" / "events.parquet")
    assert len(merged) > 90
    # pandas and pyarrow read the folder in one call, in shard order, with the same columns and types
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ds" / "events.parquet"), merged)
    table = pads.dataset(tmp_path / "ds" / "events.parquet", format="parquet").to_table()
    pd.testing.assert_frame_equal(table.to_pandas(), merged)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ds" / "labels.parquet"),
                                  pd.read_parquet(tmp_path / "file" / "labels.parquet"))
    dd = pytest.importorskip("dask.dataframe")
    got = dd.read_parquet(str(tmp_path / "ds" / "events.parquet")).compute().reset_index(drop=True)
    assert list(got["event_id"]) == list(merged["event_id"]) and list(got.columns) == list(merged.columns)
    # the other files are those of the one-file layout, byte for byte
    for name in ("events.csv", "cases.csv"):
        assert (tmp_path / "ds" / name).read_bytes() == (tmp_path / "file" / name).read_bytes()
    assert [x for x in _listing(tmp_path / "ds") if x.startswith("events.parquet")] == [
        "events.parquet", *(f"events.parquet/{n}" for n in PARTS)]


def test_dataset_parts_are_the_shards_files_and_the_manifest_lists_them(write_process, tmp_path):
    p = write_process(MINI)
    one = run(p, tmp_path / "one", seed=4, cases=90, replications=3, workers=1, formats=FORMATS,
              parquet_layout="dataset")
    run(p, tmp_path / "two", seed=4, cases=90, replications=3, workers=2, formats=FORMATS, parquet_layout="dataset")
    assert _listing(tmp_path / "one") == _listing(tmp_path / "two")
    for rel in _listing(tmp_path / "one"):
        if (tmp_path / "one" / rel).is_file() and rel != "manifest.json":
            assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    m = one.manifest
    entry = m["files"]["events.parquet"]
    assert entry["layout"] == "dataset" and list(entry["parts"]) == PARTS
    for k, name in enumerate(PARTS):
        data = (tmp_path / "one" / "events.parquet" / name).read_bytes()
        assert entry["parts"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        # the part is the shard's own file, as its worker wrote it (the shard's hash in the manifest)
        assert m["shards"][k]["files"]["events.parquet"] == entry["parts"][name]["sha256"]
    assert entry["bytes"] == sum(v["bytes"] for v in entry["parts"].values())
    assert json.loads((tmp_path / "one" / "manifest.json").read_text())["files"] == m["files"]


def test_layouts_replace_each_other_and_foreign_files_are_kept(write_process, tmp_path):
    p = write_process(MINI)
    out = tmp_path / "o"
    kw = {"seed": 1, "cases": 40, "replications": 2, "workers": 1, "formats": ["csv", "parquet"]}
    run(p, out, **kw, parquet_layout="dataset")
    assert (out / "events.parquet").is_dir()
    run(p, out, **kw)  # the one-file layout over a dataset
    assert (out / "events.parquet").is_file()
    run(p, out, **kw, parquet_layout="dataset")  # and back
    assert sorted(x.name for x in (out / "events.parquet").iterdir()) == PARTS[:2]
    run(p, out, seed=1, cases=20, formats=["csv"])  # a run without Parquet removes the dataset
    assert not (out / "events.parquet").exists()
    run(p, out, **kw, parquet_layout="dataset")
    (out / "events.parquet" / "mine.txt").write_text("a user's file")
    with pytest.raises(FolderError, match=r"events\.parquet: holds files procsim did not write \(mine\.txt\)"):
        run(p, out, **kw)
    assert (out / "events.parquet" / "mine.txt").read_text() == "a user's file"
    assert sorted(x.name for x in (out / "events.parquet").iterdir()) == ["mine.txt", *PARTS[:2]]
    # a part changed by someone is theirs: the dataset is no longer procsim's to replace
    (out / "events.parquet" / "mine.txt").unlink()
    with (out / "events.parquet" / PARTS[0]).open("ab") as f:
        f.write(b"x")
    with pytest.raises(FolderError, match=r"events\.parquet: exists and procsim did not write it"):
        run(p, out, **kw)


@pytest.mark.parametrize("kw, msg", [
    ({"cases": 10, "replications": 2, "formats": ["parquet"], "parquet_layout": "folder"},
     "--parquet-layout folder: choose from file, dataset"),
    ({"cases": 10, "formats": ["parquet"], "parquet_layout": "dataset"}, "partitions Parquet by shard"),
    ({"cases": 10, "replications": 2, "formats": ["csv"], "parquet_layout": "dataset"}, "needs a Parquet format"),
])
def test_bad_layout_flags(write_process, tmp_path, kw, msg):
    with pytest.raises(UsageError, match=msg):
        run(write_process(MINI), tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_cli_parquet_layout(write_process, tmp_path):
    p = write_process(MINI)
    r = subprocess.run([sys.executable, "-m", "procsim", "run", str(p), "--cases", "40", "--replications", "2",
                        "--workers", "2", "--format", "parquet", "--parquet-layout", "dataset",
                        "--out", str(tmp_path / "o"), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(pd.read_parquet(tmp_path / "o" / "events.parquet")["case_id"].unique()) == 40
    r = subprocess.run([sys.executable, "-m", "procsim", "run", str(p), "--cases", "40", "--format", "parquet",
                        "--parquet-layout", "dataset", "--out", str(tmp_path / "d")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "partitions Parquet by shard" in r.stderr
