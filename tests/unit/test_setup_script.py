"""deploy/setup/setup.sh decides what a machine lacks and how to install it; run here in
--dry-run against fakes of id, sudo, dpkg-query, python3, apt-get and the tools on PATH (this
machine's own packages are never touched)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "setup" / "setup.sh"
EVERYTHING = ["redis-server", "java", "mvn", "prometheus", "promtool", "chromium", "chromedriver"]


def fake_machine(tmp_path: Path, *, uid: int = 0, commands=EVERYTHING, dpkg_installed=("postgresql",),
                 sudo_ok: bool = False, python_ensurepip: bool = True, init_running=()) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()

    def script(name: str, body: str) -> None:
        path = bin_dir / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)

    for name in commands:
        script(name, "exit 0")
    script("id", f"echo {uid}")
    script("apt-get", "echo REAL-APT-GET-CALLED; exit 1")
    if sudo_ok:
        script("sudo", 'if [ "$1" = -n ] && [ "$2" = true ]; then exit 0; fi; exit 1')
    installed = " ".join(dpkg_installed)
    script("dpkg-query", f'for p in {installed}; do [ "${{@: -1}}" = "$p" ] && '
                         "{ printf 'install ok installed'; exit 0; }; done; exit 1")
    script("python3", "exit 0" if python_ensurepip else "exit 1")
    init = tmp_path / "init.d"
    init.mkdir()
    for unit in init_running:
        (init / unit).write_text('#!/bin/bash\n[ "$1" = status ] && exit 0; exit 0\n')
        (init / unit).chmod(0o755)
    return {"PATH": str(bin_dir), "VIGIL_SETUP_INIT_DIR": str(init)}


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=30)


def test_a_complete_machine_needs_nothing(tmp_path):
    result = run(fake_machine(tmp_path), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "setup: every system package is present"


def test_as_root_it_installs_exactly_what_is_missing_and_stops_the_services_they_start(tmp_path):
    env = fake_machine(tmp_path, commands=["java", "mvn", "chromium", "chromedriver", "promtool"],
                       dpkg_installed=())
    result = run(env, "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "setup: installing redis-server prometheus postgresql"
    assert "setup: would run: apt-get update -qq" in lines
    assert ("setup: would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "redis-server prometheus postgresql") in lines
    stopped = [line for line in lines if line.startswith("setup: stopping")]
    assert stopped == [f"setup: stopping the {unit} system service (vigil starts its own on 127.0.0.1)"
                       for unit in ("redis-server", "prometheus", "prometheus-node-exporter", "postgresql")]
    assert "REAL-APT-GET-CALLED" not in result.stdout


def test_without_root_or_sudo_one_line_says_what_to_install(tmp_path):
    env = fake_machine(tmp_path, uid=1000, commands=["java", "mvn", "prometheus", "promtool", "chromium",
                                                     "chromedriver"], python_ensurepip=False)
    result = run(env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "setup: missing Debian packages: python3-venv redis-server; install them as root "
        "(sudo apt-get install -y python3-venv redis-server) and run the command again"]


def test_with_passwordless_sudo_it_installs_through_sudo(tmp_path):
    env = fake_machine(tmp_path, uid=1000, sudo_ok=True, commands=[c for c in EVERYTHING if c != "chromedriver"])
    result = run(env, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert ("setup: would run: sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "chromium-driver") in result.stdout


@pytest.mark.parametrize(("flag", "expected"), [("--stop-services", ["redis-server", "postgresql"]), (None, [])])
def test_running_system_services_are_stopped_only_when_asked_or_just_installed(tmp_path, flag, expected):
    env = fake_machine(tmp_path, init_running=("redis-server", "postgresql"))
    result = run(env, "--dry-run", *([flag] if flag else []))
    assert result.returncode == 0, result.stderr
    init = env["VIGIL_SETUP_INIT_DIR"]
    assert [line for line in result.stdout.splitlines() if "would run" in line] == [
        f"setup: would run: {init}/{unit} stop" for unit in expected]


def test_an_unknown_option_is_refused():
    result = subprocess.run(["/bin/bash", str(SCRIPT), "--frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown option --frobnicate" in result.stderr
