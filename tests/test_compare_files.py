"""python -m skdrop compare never loses a file nor reports a half-finished run.

Output paths are checked before any work; reports are written whole or not
at all; an interrupt, in a fit or between reports, leaves the previous
reports as they were.
"""

import contextlib
import copy
import errno
import io
import json
import os
import signal
import stat
import sys

import numpy as np
import pytest
from support import usage_error

from skdrop import DropoutMLPClassifier
from skdrop._core.network import Network
from skdrop.compare import files as _compare_files
from skdrop.compare import run as _compare
from skdrop.compare.cli import main

# One outer split pair, one candidate, a 2-unit network: about a second.
TINY = [
    "--dataset", "iris", "--hidden", "2", "--max-iter", "2", "--repeats", "1",
    "--dropout-grid", "0", "--alpha-grid", "0.1", "--quiet",
]  # fmt: skip
OLD = '{"old": "report"}\n'


@pytest.fixture
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the comparison ran despite an invalid output path")

    monkeypatch.setattr(_compare, "run_comparison", refuse)


@pytest.fixture
def data(tmp_path):
    rows = "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(40))
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + rows)
    return path


def leftovers(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


@pytest.fixture(scope="module")
def tiny_comparison():
    """What the comparison of a TINY run returns, computed once (a real
    run, its report discarded)."""
    recorded = []
    run = _compare.run_comparison

    def recording(*args, **kwargs):
        recorded.append(run(*args, **kwargs))
        return recorded[-1]

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(None):
        patch.setattr(_compare, "run_comparison", recording)
        assert main(["compare", *TINY]) == 0
    return recorded[0]


@pytest.fixture
def computed_once(monkeypatch, tiny_comparison):
    """The comparison returns the TINY run's results without fitting again:
    the tests that use this are about the files written from them."""

    def replay(*args, **kwargs):
        return copy.deepcopy(tiny_comparison)

    monkeypatch.setattr(_compare, "run_comparison", replay)


# -- checked before any work ------------------------------------------------
@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize("how", ["same", "relative", "symlink", "hard link"])
def test_a_report_onto_the_input_data_is_refused(capsys, data, monkeypatch, how):
    before = data.read_bytes()
    monkeypatch.chdir(data.parent)
    if how == "same":
        target = str(data)
    elif how == "relative":
        target = "./data.csv"
    else:
        target = str(data.parent / "other.csv")
        (os.symlink if how == "symlink" else os.link)(data, target)
    argv = ["--csv", str(data), "--target", "y", "--json", target]
    assert "is the input file --csv" in usage_error(capsys, argv)
    assert data.read_bytes() == before


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize(
    ("first", "second"),
    [("--json", "--markdown"), ("--markdown", "--plot"), ("--json", "--plot")],
)
def test_two_reports_onto_one_file_are_refused(capsys, tmp_path, first, second):
    path = str(tmp_path / "report.png")
    spelled_otherwise = str(tmp_path / "." / "report.png")
    line = usage_error(capsys, [first, path, second, spelled_otherwise])
    assert f"argument {second}" in line and f"also the {first} file" in line


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize("option", ["--json", "--markdown", "--plot"])
def test_unwritable_targets_are_refused_up_front(capsys, tmp_path, option):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    cases = {
        "": "the path is empty",
        "/dev/full": "is not a regular file",
        str(tmp_path / "new-folder") + "/": "names a folder, not a file",
        str(fifo): "is not a regular file",
        str(tmp_path / ("x" * 300 + ".png")): "file name too long",
    }
    for path, problem in cases.items():
        line = usage_error(capsys, [option, path])
        assert f"argument {option}: " in line and problem in line, line


@pytest.mark.usefixtures("no_work")
def test_a_folder_where_no_file_can_be_created_is_refused(
    capsys, tmp_path, monkeypatch
):
    # A full disk or a read-only file system, which permission bits (and
    # os.access, as root) do not show.
    def full(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_compare_files, "_create_temporary", full)
    line = usage_error(capsys, ["--json", str(tmp_path / "r.json")])
    assert "cannot be written (No space left on device)" in line
    assert os.listdir(tmp_path) == []


# -- written whole, or not at all -------------------------------------------
def test_reports_are_written_and_old_ones_replaced_whole(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    report, md, svg = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.svg"
    report.write_text(OLD)
    os.chmod(report, 0o640)
    import matplotlib

    backend = matplotlib.get_backend()
    args = ["--json", str(report), "--markdown", str(md), "--plot", str(svg)]
    assert main(["compare", *args, *TINY]) == 0
    assert json.loads(report.read_text())["dataset"]["name"] == "iris"
    assert stat.S_IMODE(report.stat().st_mode) == 0o640  # the old file's mode
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(md.stat().st_mode) == 0o666 & ~umask  # as open() makes
    assert md.read_text().startswith("# skdrop compare: iris")
    assert svg.read_text().lstrip().startswith("<?xml")
    # The figure is drawn without pyplot: the process's backend is untouched.
    assert matplotlib.get_backend() == backend
    assert leftovers(tmp_path) == []
    assert "JSON written to" in capsys.readouterr().out


@pytest.mark.usefixtures("computed_once")
def test_writing_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text(OLD)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert main(["compare", "--json", str(link), *TINY]) == 0
    assert link.is_symlink() and "dataset" in json.loads(real.read_text())


@pytest.mark.usefixtures("computed_once")
def test_a_write_that_fails_part_way_changes_no_report(tmp_path, capsys, monkeypatch):
    report, md = tmp_path / "r.json", tmp_path / "r.md"
    report.write_text(OLD)
    md.write_text("old markdown\n")
    calls = []
    fsync = os.fsync

    def disk_full_on_second_file(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    # The up-front check writes its scratch files first; fail afterwards.
    monkeypatch.setattr(_compare_files.os, "fsync", disk_full_on_second_file)
    monkeypatch.setattr(_compare_files, "_write_scratch_file", lambda target: None)
    code = main(["compare", "--json", str(report), "--markdown", str(md), *TINY])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m skdrop compare: error: cannot write")
    assert "previous files are unchanged" in err[-1]
    assert report.read_text() == OLD and md.read_text() == "old markdown\n"
    assert leftovers(tmp_path) == []


# -- interrupts ---------------------------------------------------------------
@pytest.fixture
def sigint_raises():
    """Python's own SIGINT handler for the test: a process started in the
    background by a non-interactive shell inherits SIGINT ignored, and Python
    then never turns it into KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _interrupt_after(monkeypatch, n_calls):
    """Send this process SIGINT from inside the n-th forward pass of a fit."""
    forward, calls = Network.forward, []

    def interrupted_forward(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == n_calls:
            os.kill(os.getpid(), signal.SIGINT)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(Network, "forward", interrupted_forward)


def test_ctrl_c_inside_a_fit_stops_the_job_with_one_worker(
    tmp_path, capsys, monkeypatch, sigint_raises
):
    # The training loop catches KeyboardInterrupt and warns; the job used to
    # go on to the end, exit 0 and replace the report.
    report = tmp_path / "r.json"
    report.write_text(OLD)
    _interrupt_after(monkeypatch, 1)  # in skdrop's first epoch
    argv = ["compare", "--json", str(report), "--n-jobs", "1", *TINY]
    assert main(argv) == 130
    out, err = capsys.readouterr()
    assert err == "python -m skdrop compare: interrupted\n"
    assert "Verdict" not in out
    assert report.read_text() == OLD and leftovers(tmp_path) == []


def test_a_users_own_fit_keeps_scikit_learns_interrupt_behaviour(
    monkeypatch, sigint_raises
):
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    _interrupt_after(monkeypatch, 3)
    model = DropoutMLPClassifier(hidden_layer_sizes=(2,), max_iter=50)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        model.fit(X, y)
    assert model.n_iter_ < 50 and model.predict(X).shape == (40,)


@pytest.mark.usefixtures("computed_once")
def test_ctrl_c_while_reports_are_written_changes_none(tmp_path, capsys, monkeypatch):
    report, md = tmp_path / "r.json", tmp_path / "r.md"
    report.write_text(OLD)
    md.write_text("old markdown\n")
    from skdrop.compare import report as _compare_report

    def interrupted(report, stream):
        raise KeyboardInterrupt

    monkeypatch.setattr(_compare_report, "write_json", interrupted)
    argv = ["compare", "--markdown", str(md), "--json", str(report), *TINY]
    assert main(argv) == 130
    assert report.read_text() == OLD and md.read_text() == "old markdown\n"
    assert leftovers(tmp_path) == []


def test_ctrl_c_during_the_renames_is_held_until_all_are_done(tmp_path, monkeypatch):
    targets = [tmp_path / f"r{i}.txt" for i in range(3)]
    replace = os.replace

    def interrupted_replace(source, target):
        os.kill(os.getpid(), signal.SIGINT)  # held: delivered after the block
        replace(source, target)

    monkeypatch.setattr(_compare_files.os, "replace", interrupted_replace)
    _compare_files.write_all(
        [(str(t), "w", lambda stream: stream.write("new")) for t in targets]
    )
    assert [t.read_text() for t in targets] == ["new"] * 3


class _FullStream(io.StringIO):
    """A stdout on a full disk."""

    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.usefixtures("computed_once")
def test_a_full_stdout_is_one_line_and_the_files_are_still_written(
    tmp_path, capsys, monkeypatch
):
    report = tmp_path / "r.json"
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", _FullStream())
        code = main(["compare", "--json", str(report), *TINY])
    assert code == 1
    assert capsys.readouterr().err == (
        "python -m skdrop compare: error: cannot write to standard output "
        "(No space left on device)\n"
    )
    assert json.loads(report.read_text())["dataset"]["name"] == "iris"
