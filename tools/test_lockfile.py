"""The virtualenv holds exactly the lock files, and the check that says so catches a stray install."""

import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tools import lockfile

BASE_DIR = Path(settings.BASE_DIR)
LOCKS = ["requirements-pip.lock", "requirements-test.lock"]


def fake_install(site: Path, name: str, version: str) -> None:
    """What `pip install` leaves for importlib.metadata to find: a .dist-info directory."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def check(*, extra_site: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"}
    if extra_site is not None:
        env["PYTHONPATH"] = str(extra_site)
    return subprocess.run([sys.executable, "tools/lockfile.py", "check", *LOCKS], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_virtualenv_holds_exactly_the_locks():
    result = check()
    assert result.returncode == 0, result.stderr


def test_a_package_installed_by_hand_fails_the_check(tmp_path):
    fake_install(tmp_path, "left-pad", "1.3.0")
    result = check(extra_site=tmp_path)
    assert result.returncode == 1
    assert "left-pad==1.3.0 is installed but in no lock file" in result.stderr


def locked_version(name: str) -> str:
    return next(version for pin, version, _ in lockfile.read_pins(BASE_DIR / "requirements.lock") if pin == name)


def test_a_locked_package_at_another_version_fails_the_check(tmp_path):
    fake_install(tmp_path, "Django", "9.9")
    result = check(extra_site=tmp_path)
    assert result.returncode == 1
    assert f"django==9.9 is installed but requirements-test.lock has {locked_version('django')}" in result.stderr


def test_a_top_level_pin_edited_without_relocking_fails_the_check(tmp_path):
    shutil.copy(BASE_DIR / "requirements.lock", tmp_path / "requirements.lock")
    (tmp_path / "requirements.txt").write_text(f"Django==9.9\nredis=={locked_version('redis')}\n")
    assert lockfile.top_level_drift(tmp_path / "requirements.lock") == [
        f"requirements.txt pins django==9.9 but requirements.lock has {locked_version('django')}: run `make lock`"
    ]


def test_every_top_level_pin_is_locked_and_the_test_lock_runs_what_production_installs():
    for lock in ("requirements-pip.lock", "requirements.lock", "requirements-test.lock"):
        assert lockfile.top_level_drift(BASE_DIR / lock) == []
    runtime = set(lockfile.read_pins(BASE_DIR / "requirements.lock"))
    assert runtime <= set(lockfile.read_pins(BASE_DIR / "requirements-test.lock"))
