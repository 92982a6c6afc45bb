# Shared by scripts/test and scripts/demo: make .venv and install what is needed.
# Sourced, not run. Idempotent: a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

install_debian_packages() {
  [ "$(id -u)" = 0 ] || { echo "not root: skipping apt-get (install $(grep -v '^#' scripts/apt-packages.txt | awk '{print $1}' | xargs) yourself)"; return 0; }
  command -v apt-get >/dev/null || return 0
  local want missing=()
  for want in $(grep -v '^\s*#' scripts/apt-packages.txt | awk 'NF{print $1}'); do
    dpkg-query -W -f='${Status}' "$want" 2>/dev/null | grep -q "install ok installed" || missing+=("$want")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "apt-get install: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local py="${PYTHON:-python3}"
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  local stamp=.venv/.salaklang-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch "$stamp"
  fi
}
