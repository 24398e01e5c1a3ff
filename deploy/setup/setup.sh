#!/usr/bin/env bash
# vigil's one set-up path: install the Debian packages a fresh machine lacks
# (deploy/setup/system-packages.txt), then stop the system services their packages start
# (deploy/setup/system-services.txt): vigil runs its own Redis, Prometheus and PostgreSQL on
# 127.0.0.1. Python dependencies are not installed here: they go into .venv (make install).
#
#   setup.sh                  install what is missing (as root, or with passwordless sudo);
#                             otherwise print one line saying what to install, and exit 1
#   setup.sh --dry-run        print what it would do, change nothing
#   setup.sh --stop-services  also stop every listed system service that runs (CI), not only
#                             those of packages installed by this run
#
# Uses only bash built-ins and id, sudo, apt-get, dpkg-query, python3, systemctl or
# /etc/init.d scripts, so tests/unit/test_setup_script.py can run it against fakes on PATH.
set -uo pipefail

source_path="${BASH_SOURCE[0]}"
[[ "$source_path" == */* ]] || source_path="./$source_path"
here="$(cd "${source_path%/*}" && pwd)"
packages_file="${VIGIL_SETUP_PACKAGES:-$here/system-packages.txt}"
services_file="${VIGIL_SETUP_SERVICES:-$here/system-services.txt}"
init_dir="${VIGIL_SETUP_INIT_DIR:-/etc/init.d}"
dry_run=0
stop_all=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --stop-services) stop_all=1 ;;
    -h|--help) n=0; while IFS= read -r line; do n=$((n + 1)); ((n >= 2 && n <= 15)) && echo "${line#\# }"; done < "$source_path"; exit 0 ;;
    *) echo "setup: unknown option $arg (use --dry-run or --stop-services)" >&2; exit 2 ;;
  esac
done

check_holds() {  # one check from the "present when" column
  local check="$1"
  case "$check" in
    cmd:*) command -v "${check#cmd:}" >/dev/null 2>&1 ;;
    pkg:*) [[ "$(dpkg-query -W -f='${Status}' "${check#pkg:}" 2>/dev/null)" == "install ok installed" ]] ;;
    py:*) python3 -c "import ${check#py:}" >/dev/null 2>&1 ;;
    *) echo "setup: $packages_file: unknown check '$check'" >&2; return 1 ;;
  esac
}

missing=()
while read -r package checks _; do
  [[ -z "$package" || "$package" == \#* ]] && continue
  IFS=',' read -ra each <<< "$checks"
  for check in "${each[@]}"; do
    if ! check_holds "$check"; then missing+=("$package"); break; fi
  done
done < "$packages_file"

run() {  # a command, or what it would be under --dry-run
  if [[ $dry_run -eq 1 ]]; then echo "setup: would run: $*"; else "$@"; fi
}

sudo_cmd=()
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
      sudo_cmd=(sudo -n)
    else
      echo "setup: missing Debian packages: ${missing[*]}; install them as root (sudo apt-get install -y ${missing[*]}) and run the command again" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${missing[*]} and there is no apt-get here: install the equivalents of these Debian packages and run the command again" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  run "${sudo_cmd[@]}" apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
  run "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
    || { echo "setup: apt-get install ${missing[*]} failed" >&2; exit 1; }
elif [[ $dry_run -eq 1 ]]; then
  echo "setup: every system package is present"
fi

service_running() {
  local unit="$1"
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl is-active --quiet "$unit"
  else
    [[ -x "$init_dir/$unit" ]] && "$init_dir/$unit" status >/dev/null 2>&1
  fi
}

stop_service() {
  local unit="$1"
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    run "${sudo_cmd[@]}" systemctl disable --now "$unit"
  else
    run "${sudo_cmd[@]}" "$init_dir/$unit" stop
    if command -v update-rc.d >/dev/null 2>&1; then run "${sudo_cmd[@]}" update-rc.d "$unit" disable; fi
  fi
}

# the packages' post-install scripts start their system services (Redis on :6379, Prometheus
# on :9090 and node-exporter on :9100 on every interface, PostgreSQL on :5432): vigil needs none
# of them, so stop those that came with this run's packages (or all of them with --stop-services)
while read -r unit _; do
  [[ -z "$unit" || "$unit" == \#* ]] && continue
  related=0
  for package in "${missing[@]}"; do [[ "$unit" == "$package"* ]] && related=1; done
  [[ $stop_all -eq 1 || $related -eq 1 ]] || continue
  if [[ $dry_run -eq 1 && $related -eq 1 && $stop_all -eq 0 ]] || service_running "$unit"; then
    echo "setup: stopping the $unit system service (vigil starts its own on 127.0.0.1)"
    stop_service "$unit" || echo "setup: could not stop $unit; it keeps running" >&2
  fi
done < "$services_file"
exit 0
