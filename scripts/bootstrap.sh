#!/usr/bin/env bash
# Create or reuse the project virtualenv and install latentflow into it (editable, with the
# `test`, `bmld` and `lint` extras). Needs only python3 (>= 3.10) and pip; safe to run again
# and again: it re-installs only when something that decides the install changed (see the
# stamp below).
#
#   scripts/bootstrap.sh          set up (or do nothing when up to date)
#   scripts/bootstrap.sh --plan   only print which torch build would be used and its pins
#
# Environment:
#   LATENTFLOW_VENV    the virtualenv to use (default: .venv in the repository root)
#   LATENTFLOW_PYTHON  the interpreter that creates it (default: python3)
#   LATENTFLOW_TORCH   cpu | cuda: force the torch build instead of detecting it
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${LATENTFLOW_VENV:-$root/.venv}
[[ $venv == /* ]] || venv=$PWD/$venv
python=${LATENTFLOW_PYTHON:-python3}
torch_request=${LATENTFLOW_TORCH:-}
stamp_file=$venv/.latentflow-install.sha256
vpy=$venv/bin/python

say() { printf 'latentflow set-up: %s\n' "$*"; }
die() { printf 'latentflow set-up: error: %s\n' "$*" >&2; exit 1; }

plan_only=false
case ${1:-} in
  "") ;;
  --plan) plan_only=true ;;
  *) die "unknown argument '$1'; the only option is --plan" ;;
esac
case $torch_request in
  "" | cpu | cuda) ;;
  *) die "LATENTFLOW_TORCH=$torch_request is not allowed; use cpu, cuda or leave it unset" ;;
esac

# Prints "none", "cpu VERSION" or "gpu VERSION" for the torch in the venv.
installed_torch() {
  [[ -x $vpy ]] || { echo none; return; }
  "$vpy" - <<'EOF'
import importlib.util
if importlib.util.find_spec("torch") is None:
    print("none")
else:
    import torch
    gpu = torch.version.cuda or getattr(torch.version, "hip", None)
    print(("gpu" if gpu else "cpu") + " " + torch.__version__)
EOF
}

# What the venv already has wins, so a working CUDA torch + torchaudio pair is never
# replaced. A venv without torch gets a CUDA pair only when a GPU answers nvidia-smi;
# every other machine gets the local CPU wheel (a bare "torch" would download GBs of CUDA).
choose_torch() {
  if [[ -n $torch_request ]]; then
    echo "$torch_request"
    return
  fi
  case $(installed_torch) in
    gpu*) echo installed ;;
    cpu*) echo cpu ;;
    *) if nvidia-smi -L >/dev/null 2>&1; then echo cuda; else echo cpu; fi ;;
  esac
}

# Pins for the torch and torchaudio the venv has, so that pip's resolver keeps both.
installed_pins() {
  "$vpy" - <<'EOF'
from importlib import metadata
for name in ("torch", "torchaudio"):
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        pass
EOF
}

if $plan_only; then
  choice=$(choose_torch)
  say "plan: torch=$choice ($(installed_torch | sed 's/^gpu/GPU torch/; s/^cpu/CPU torch/; s/^none/no torch/') in $venv)"
  case $choice in
    installed) installed_pins ;;
    *) grep -v '^#' "$root/constraints/$choice.txt" ;;
  esac
  exit 0
fi

# --- 1. the virtualenv --------------------------------------------------------------------
if [[ ! -x $vpy ]]; then
  command -v "$python" >/dev/null || die "$python not found; set LATENTFLOW_PYTHON to a Python >= 3.10"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$python is Python $("$python" -c 'import platform; print(platform.python_version())'); latentflow needs >= 3.10"
  say "creating virtualenv $venv"
  if ! "$python" -m venv "$venv"; then
    # Debian-style Pythons without ensurepip: make the venv bare and let the system pip
    # (>= 22.3 understands --python) install pip into it.
    say "python3 -m venv could not add pip; creating the venv without pip and installing pip into it"
    rm -rf "$venv"
    "$python" -m venv --without-pip "$venv"
    "$python" -m pip --python "$vpy" install --progress-bar off pip
  fi
fi

# --- 2. skip when nothing changed -----------------------------------------------------------
# The stamp covers everything that decides what gets installed, plus where the editable
# install points to (two clones may share one LATENTFLOW_VENV).
stamp=$(
  {
    printf 'root=%s torch=%s python=%s\n' "$root" "$torch_request" "$("$vpy" -c 'import sys; print(sys.version)')"
    cat "$root/pyproject.toml" "$root"/constraints/*.txt "$root/scripts/bootstrap.sh" \
      "$root/scripts/check_torchaudio.py"
  } | sha256sum | cut -d' ' -f1
)
if [[ -f $stamp_file && $(<"$stamp_file") == "$stamp" ]]; then
  exit 0
fi

# --- 3. which torch -------------------------------------------------------------------------
choice=$(choose_torch)
case $choice in
  installed)
    constraints=$venv/latentflow-installed-torch.txt
    installed_pins >"$constraints"
    say "keeping the venv's GPU torch: $(tr '\n' ' ' <"$constraints")"
    ;;
  cpu)
    constraints=$root/constraints/cpu.txt
    say "CPU machine: torch pinned to the local CPU wheel ($constraints)"
    ;;
  cuda)
    constraints=$root/constraints/cuda.txt
    say "GPU machine: installing the CUDA torch/torchaudio pair in $constraints"
    ;;
esac

# --- 4. install -----------------------------------------------------------------------------
say "installing latentflow (editable, with the test, bmld and lint extras) into $venv"
start=$SECONDS
"$vpy" -m pip install --progress-bar off -c "$constraints" -e "$root[test,bmld,lint]"

# --- 5. torchaudio --------------------------------------------------------------------------
# On a CPU torch the registry's CUDA-linked torchaudio needs its compiled libraries removed;
# the script prints what it removes and why, and fails if the transforms still do not work.
"$vpy" "$root/scripts/check_torchaudio.py"

printf '%s\n' "$stamp" >"$stamp_file"
say "done in $((SECONDS - start)) s; the venv is reused until pyproject.toml, constraints/ or this script change"
