"""The pre-commit hook this repository ships (.pre-commit-hooks.yaml, Docs/ci.md), run by the real
pre-commit (installed from PyPI into .build/pre-commit-venv on first use; the tests skip, with the
reason, when pip cannot install it):

* `pre-commit try-repo` on this checkout (uncommitted changes included) with the hook's default
  args passes a model the micro target runs and fails, naming the op, one it does not;
* a consumer repository's `.pre-commit-config.yaml` with `args: [--rules=..., --arena-limit=...]`
  (pre-commit appends the staged file names after them) passes within the limit and fails over it.

The hook finds `tfrewrite` on PATH; here PATH holds only the binary under test and /usr/bin:/bin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness

PRE_COMMIT = "pre-commit==4.7.0"
VENV = harness.REPO_ROOT / ".build" / "pre-commit-venv"
GIT_IDENTITY = ["-c", "user.name=tfrewrite tests", "-c", "user.email=tests@tfrewrite.invalid"]


@pytest.fixture(scope="module")
def pre_commit() -> Path:
    exe = VENV / "bin" / "pre-commit"
    stamp = VENV / ".requirement"
    if not (exe.is_file() and stamp.is_file() and stamp.read_text() == PRE_COMMIT):
        if shutil.which("git") is None:
            pytest.skip("git is not installed: pre-commit needs it")
        shutil.rmtree(VENV, ignore_errors=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"could not create a venv for pre-commit: {made.stderr.strip()[-300:]}")
        pip = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", "--no-input", PRE_COMMIT],
                             capture_output=True, text=True, timeout=600)
        if pip.returncode != 0:
            pytest.skip(f"pip could not install {PRE_COMMIT} (offline?): {pip.stderr.strip()[-300:]}")
        stamp.write_text(PRE_COMMIT)
    return exe


@pytest.fixture(scope="module")
def hook_env(tfrewrite, tmp_path_factory) -> dict:
    """PATH with only the tfrewrite under test and the system's /usr/bin:/bin; a private
    pre-commit cache."""
    bin_dir = tmp_path_factory.mktemp("hook-bin")
    (bin_dir / "tfrewrite").symlink_to(tfrewrite)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRE_COMMIT", "GIT_"))}
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    env["PRE_COMMIT_HOME"] = str(tmp_path_factory.mktemp("pre-commit-home"))
    return env


@pytest.fixture(scope="module")
def models() -> dict:
    """good.tflite: micro_speech, which the micro target runs; bad.tflite: a dynamic-range
    (hybrid) FULLY_CONNECTED, which TFLM's kernels do not run."""
    return {"good.tflite": (harness.FIXTURES_DIR / "micro_speech_int8.tflite").read_bytes(),
            "bad.tflite": (harness.FIXTURES_DIR / "repair" / "mlp_dynamic_range.tflite").read_bytes()}


def git(*args, cwd: Path, env: dict) -> None:
    subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, env=env, check=True, capture_output=True)


def consumer_repo(folder: Path, models: dict, env: dict, config: str = "") -> Path:
    folder.mkdir(parents=True)
    git("init", "-q", cwd=folder, env=env)
    for name, data in models.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    if config:
        (folder / ".pre-commit-config.yaml").write_text(config)
    git("add", ".", cwd=folder, env=env)
    return folder


def run(cmd: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def test_try_repo_passes_a_good_model_and_fails_a_bad_one(pre_commit, hook_env, models, tmp_path):
    repo = consumer_repo(tmp_path / "consumer", models, hook_env)
    for name, want in (("good.tflite", 0), ("bad.tflite", 1)):
        proc = run([pre_commit, "try-repo", harness.REPO_ROOT, "tfrewrite-check", "--files", name],
                   cwd=repo, env=hook_env)
        report = proc.stdout + proc.stderr
        assert proc.returncode == want, f"{name}: exit {proc.returncode}\n{report[-3000:]}"
        if want:
            assert "bad.tflite: error: FULLY_CONNECTED #0 is hybrid" in report, report[-3000:]
        else:
            assert "Passed" in report, report[-3000:]


def test_config_args_reach_check(pre_commit, hook_env, models, tmp_path):
    """A consumer's config, as Docs/ci.md shows it, against a copy of this repository's hook
    files committed to a scratch repository (pre-commit clones `repo` at `rev`)."""
    hooks = tmp_path / "hooks"
    (hooks / "scripts").mkdir(parents=True)
    shutil.copy2(harness.REPO_ROOT / ".pre-commit-hooks.yaml", hooks)
    shutil.copy2(harness.REPO_ROOT / "scripts" / "pre-commit-check.sh", hooks / "scripts")
    git("init", "-q", cwd=hooks, env=hook_env)
    git("add", ".", cwd=hooks, env=hook_env)
    git("commit", "-q", "-m", "hooks", cwd=hooks, env=hook_env)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hooks, capture_output=True, text=True,
                         check=True).stdout.strip()

    def consumer(name: str, rules: str, arena_limit: int) -> Path:
        config = (f"repos:\n- repo: {hooks}\n  rev: {rev}\n  hooks:\n  - id: tfrewrite-check\n"
                  f"    args: [--rules={rules}, --arena-limit={arena_limit}]\n")
        return consumer_repo(tmp_path / name, {"models/kws.tflite": models["good.tflite"]}, hook_env, config)

    cases = [("fits", "micro", 1 << 20, 0, None),
             ("other-target", "micro_speech", 1 << 20, 1,
              "models/kws.tflite: error: CONV_2D #1 is not in the target micro_speech (tflm)"),
             ("tight", "micro", 1000, 1, "tfrewrite: error: models/kws.tflite: needs a")]
    for name, rules, arena_limit, want, message in cases:
        proc = run([pre_commit, "run", "--all-files"], cwd=consumer(name, rules, arena_limit), env=hook_env)
        report = proc.stdout + proc.stderr
        assert proc.returncode == want, f"{name}: exit {proc.returncode}\n{report[-3000:]}"
        if message:
            assert message in report, report[-3000:]
