"""The command line's argument checks: usage errors before any work."""

import argparse
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import start_in_background, usage_error

import skdrop
from skdrop.compare import run as _compare
from skdrop.compare.arguments import _grid
from skdrop.compare.cli import main

# The generated cases of a test share its capsys, which usage_error empties
# (readouterr) for each case, so the function-scoped fixture is safe here.
CLI_CASES = settings(
    max_examples=25,
    suppress_health_check=[
        *settings.default.suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ],
)


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
    """Any test here that reaches the comparison has failed to stop early."""

    def refuse(*args, **kwargs):
        raise AssertionError("the comparison ran despite an invalid argument")

    monkeypatch.setattr(_compare, "run_comparison", refuse)


# Each command line's first option is the one the error must name.
INVALID = [
    "--max-iter 0",
    "--max-iter ten",
    "--hidden 0",
    "--hidden 64,0",
    "--hidden 64,",
    "--hidden 1000000",
    "--seed -1",
    f"--seed {2**32}",
    "--n-jobs 0",
    "--repeats 0",
    "--folds 1",
    "--inner-folds 1",
    "--dropout-grid 0,1",
    "--dropout-grid 0.1,0.1",
    "--dropout-grid nan",
    "--alpha-grid -1,0.1,1,2",
    "--alpha-grid 0.1,0.2",  # fewer than --dropout-grid
    "--dataset mnist",
    "--task regression",
    "--target y",
    "--csv /no/such/file.csv --target y",
    "--plot /no/such/dir/x.png",
    "--plot figure.txt",
    "--json /no/such/dir/x.json",
    "--markdown /no/such/dir/x.md",
    "--unknown-option",
]


@pytest.mark.parametrize("command_line", INVALID)
def test_invalid_values_are_one_line_usage_errors(capsys, command_line):
    argv = command_line.split()
    assert argv[0] in usage_error(capsys, argv)


def test_output_path_that_is_a_directory(capsys, tmp_path):
    assert "is a directory" in usage_error(capsys, ["--json", str(tmp_path)])


def test_csv_needs_target_and_excludes_dataset(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")
    assert "--target" in usage_error(capsys, ["--csv", str(path)])
    line = usage_error(
        capsys, ["--csv", str(path), "--target", "b", "--dataset", "iris"]
    )
    assert "--dataset" in line


@CLI_CASES
@given(
    option=st.sampled_from(["--max-iter", "--hidden", "--repeats", "--n-jobs"]),
    value=st.integers(max_value=0),
)
def test_generated_non_positive_integers_are_refused(capsys, option, value):
    if option == "--n-jobs" and value < 0 and value >= -1024:
        value = 0  # negative n_jobs (-1: all cores) are joblib's convention
    assert option in usage_error(capsys, [option, str(value)])


@CLI_CASES
@given(
    st.one_of(
        st.floats(max_value=-1e-9),
        st.floats(min_value=1.0),
        st.just(float("nan")),
    )
)
def test_generated_dropout_rates_outside_0_1_are_refused(capsys, rate):
    assert "--dropout-grid" in usage_error(capsys, ["--dropout-grid", f"0,{rate!r}"])


@CLI_CASES
@given(
    option=st.sampled_from(["--json", "--markdown", "--plot"]),
    folder=st.text(alphabet="abcdefghij_-", min_size=1, max_size=12),
)
def test_generated_output_paths_in_missing_folders_are_refused(capsys, option, folder):
    path = f"/nonexistent-skdrop-test/{folder}/report.png"
    assert option in usage_error(capsys, [option, path])


@CLI_CASES
@given(st.floats(max_value=-1e-12) | st.just(float("inf")))
def test_generated_negative_or_infinite_alphas_are_refused(capsys, alpha):
    grid = f"0.001,0.01,0.1,{alpha!r}"
    assert "--alpha-grid" in usage_error(capsys, ["--alpha-grid", grid])


def write(path, text):
    path.write_text(text)
    return str(path)


def test_csv_content_errors_name_the_problem(capsys, tmp_path):
    empty = write(tmp_path / "empty.csv", "")
    assert "empty" in usage_error(capsys, ["--csv", empty, "--target", "y"])
    good = write(tmp_path / "good.csv", "x,colour,y\n1,red,a\n2,blue,b\n")
    line = usage_error(capsys, ["--csv", good, "--target", "label"])
    assert "'label' is not a column" in line and "x, colour, y" in line
    one = write(tmp_path / "one.csv", "x,y\n" + "".join(f"{i},7\n" for i in range(40)))
    assert "single value" in usage_error(capsys, ["--csv", one, "--target", "y"])
    header = write(tmp_path / "header.csv", "x,y\n")
    assert "no row" in usage_error(capsys, ["--csv", header, "--target", "y"])
    only = write(tmp_path / "only.csv", "y\n1\n2\n")
    assert "no feature column" in usage_error(capsys, ["--csv", only, "--target", "y"])
    text = write(tmp_path / "t.csv", "x,y\n1,a\n2,b\n")
    line = usage_error(capsys, ["--csv", text, "--target", "y", "--task", "regression"])
    assert "numeric target" in line


def test_too_few_rows_or_rare_classes_are_refused(capsys, tmp_path):
    rows = "".join(f"{i},{i % 2}\n" for i in range(6))
    small = write(tmp_path / "small.csv", "x,y\n" + rows)
    assert "--folds" in usage_error(capsys, ["--csv", small, "--target", "y"])
    rows = "".join(f"{i},{'a' if i else 'b'}\n" for i in range(40))
    rare = write(tmp_path / "rare.csv", "x,y\n" + rows)
    line = usage_error(capsys, ["--csv", rare, "--target", "y", "--folds", "3"])
    assert "class 'b'" in line


# Started when pytest imports this module: the interpreter's start and
# skdrop's imports (about 2 s) overlap the tests before it on the second core
# instead of holding up the test that reads the result.
USAGE_ERROR_RUN = start_in_background(
    [sys.executable, "-m", "skdrop", "compare", "--max-iter", "0"]
)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"skdrop {skdrop.__version__}"


def test_a_usage_error_in_a_real_process():
    _, stderr = USAGE_ERROR_RUN.communicate(timeout=300)
    assert USAGE_ERROR_RUN.returncode == 2
    assert stderr.strip().splitlines()[-1] == (
        "python -m skdrop compare: error: argument --max-iter: must be between 1 "
        "and 1000000, got 0"
    )
    assert "Traceback" not in stderr


def test_help_shows_defaults_and_no_markup(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for default in [
        "sizes (default: 100)",
        "epochs (default: 100)",
        "splits (default: 0)",
        "split (default: 5)",
        "(default: 0,0.1,0.3,0.5,auto)",
        "(default: 1; -1: one per core)",
    ]:
        assert default in text
    assert "(default: None)" not in text
    assert "``" not in text and ":class:" not in text


def test_interrupt_is_one_line_and_exit_code_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_compare, "run_comparison", interrupted)
    assert main(["compare", "--dataset", "iris"]) == 130
    assert capsys.readouterr().err == "python -m skdrop compare: interrupted\n"


def test_missing_optional_packages_are_usage_errors(monkeypatch, capsys, tmp_path):
    # A None entry in sys.modules makes the import fail as if not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    line = usage_error(capsys, ["--plot", str(tmp_path / "x.png")])
    assert "--plot: needs matplotlib" in line
    monkeypatch.setitem(sys.modules, "pandas", None)
    csv = write(tmp_path / "d.csv", "x,y\n1,2\n")
    assert "--csv needs pandas" in usage_error(capsys, ["--csv", csv, "--target", "y"])


def test_dropout_grid_takes_auto_and_refuses_other_words(capsys):
    parse = _grid(0.0, 1.0, True, words=("auto",))
    assert parse("0.1,auto") == (0.1, "auto")
    with pytest.raises(argparse.ArgumentTypeError, match="numbers or 'auto'"):
        parse("0.1,sometimes")
