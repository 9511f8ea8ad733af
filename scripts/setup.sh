#!/usr/bin/env bash
# Set up the development environment of seg_perception on Debian 12 / CPython 3.11 / x86_64:
#   1. Debian packages (compiler, CMake, Python headers, libusb for open3d),
#   2. a venv (default <repo>/.venv, override with SEG_PERCEPTION_VENV),
#   3. requirements.txt into it (torch, real ROS 2 Jazzy wheels from PyPI, test tools),
#   3b. detectron2's Python code (scripts/install_detectron2.sh; the detectron2 backend),
#   4. third_party/vision_msgs built as a ROS 2 interface package into $VENV/opt/vision_msgs
#      (there is no vision_msgs wheel on PyPI).
# Idempotent: steps 3 and 4 are skipped when their stamp (a hash of their inputs) matches, so a
# second run only checks and takes seconds. Afterwards: `. scripts/env.sh`.
#
# Environment knobs:
#   SEG_PERCEPTION_VENV    venv location (default <repo>/.venv)
#   SEG_PERCEPTION_PYTHON  interpreter used to create the venv (default python3.11 on PATH)
#   SEG_PERCEPTION_JOBS    parallel build jobs (default: number of CPUs)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SEG_PERCEPTION_VENV:-$REPO/.venv}"
PYTHON="${SEG_PERCEPTION_PYTHON:-python3.11}"
JOBS="${SEG_PERCEPTION_JOBS:-$(nproc)}"
REQS="$REPO/requirements.txt"
REQS_NODEPS="$REPO/requirements-nodeps.txt"
VM_SRC="$REPO/third_party/vision_msgs"
VM_BUILD="$VENV/build/vision_msgs"
VM_PREFIX="$VENV/opt/vision_msgs"
STAMPS="$VENV/.seg_perception_stamps"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

# --- 1. Debian packages --------------------------------------------------------------------------
# cmake/make/g++: build vision_msgs. python3-dev, python3-venv: headers and ensurepip of Debian's
# python3.11 (harmless when another 3.11 is used). libusb-1.0-0: runtime dependency of open3d.
APT_PKGS=(ca-certificates cmake make g++ python3-dev python3-venv libusb-1.0-0)
missing=()
for pkg in "${APT_PKGS[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = installed ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
else
    log "apt: all packages present"
fi

# --- 2. venv -------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set SEG_PERCEPTION_PYTHON)"
    log "creating venv $VENV with $(command -v "$PYTHON")"
    "$PYTHON" -m venv "$VENV"
fi
# The ROS wheels are cp311-only.
pyver="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$pyver" = 3.11 ] || die "$VENV uses Python $pyver; ROS 2 Jazzy wheels need 3.11"
mkdir -p "$STAMPS"

# Serialize concurrent runs on the same venv (two pip installs at once corrupt it).
exec 9>"$STAMPS/lock"
flock 9

# --- 3. Python packages --------------------------------------------------------------------------
req_key="$(cat "$REQS" "$REQS_NODEPS" | sha256sum | cut -d' ' -f1)"
pip_ran=0
if [ "$(cat "$STAMPS/pip" 2>/dev/null || true)" != "$req_key" ]; then
    log "pip: installing requirements.txt (first time: several minutes)"
    "$VENV/bin/python" -m pip install -r "$REQS"
    "$VENV/bin/python" -m pip install --no-deps -r "$REQS_NODEPS"
    echo "$req_key" >"$STAMPS/pip"
    pip_ran=1
else
    log "pip: requirements.txt unchanged"
fi

# --- 3b. detectron2 (Python code only: the detectron2 backend and its tests) ----------------------
d2_key="$(cat "$REPO/requirements-detectron2.txt" "$REPO/scripts/install_detectron2.sh" \
    | sha256sum | cut -d' ' -f1)"
if [ "$pip_ran" -eq 1 ] || [ "$(cat "$STAMPS/detectron2" 2>/dev/null || true)" != "$d2_key" ]; then
    log "detectron2: installing its Python code (scripts/install_detectron2.sh)"
    bash "$REPO/scripts/install_detectron2.sh" "$VENV"
    echo "$d2_key" >"$STAMPS/detectron2"
else
    log "detectron2: installed"
fi

# --- 4. vision_msgs ------------------------------------------------------------------------------
# The wheels' CMake exports of the *_rosidl_generator_py targets name the include dirs of the
# machine that built them (/opt/python/cp311-cp311/include/python3.11 and its numpy). CMake then
# fails its generate step. Point them at this venv's Python and numpy headers; only files that
# differ are rewritten, so this is a no-op once done (pip reinstalling a wheel undoes it).
"$VENV/bin/python" - "$VENV" <<'EOF'
import glob, os, re, sys, sysconfig
import numpy
venv = sys.argv[1]
py_inc = sysconfig.get_paths()["include"]
np_inc = numpy.get_include()
if not os.path.isfile(os.path.join(py_inc, "Python.h")):
    sys.exit(f"[setup] ERROR: no Python.h in {py_inc} (install the python3 -dev package)")
n = 0
for path in glob.glob(os.path.join(venv, "share", "*", "cmake", "*Export.cmake")):
    with open(path) as f:
        text = f.read()
    if "/include/python3.11" not in text and "/numpy/" not in text:
        continue
    # Whole list items: from a quote or semicolon to the next one.
    new = re.sub(r'(?<=[";])[^";]*/include/python3\.11(?=[";])', lambda m: py_inc, text)
    new = re.sub(r'(?<=[";])[^";]*/numpy/(?:_core|core)/include(?=[";])', lambda m: np_inc, new)
    if new != text:
        with open(path, "w") as f:
            f.write(new)
        n += 1
print(f"[setup] cmake exports: {n} file(s) re-pointed to {py_inc} and {np_inc}")
EOF

# Key: sources + toolchain (requirements) + interpreter; file names relative to the package.
vm_key="$( { (cd "$VM_SRC" && find . -type f -print0 | LC_ALL=C sort -z \
                | xargs -0 sha256sum); echo "$req_key"; "$VENV/bin/python" -VV; } \
           | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMPS/vision_msgs" 2>/dev/null || true)" != "$vm_key" ]; then
    log "vision_msgs: building into $VM_PREFIX (first time: several minutes)"
    # A changed toolchain invalidates the CMake cache; otherwise rebuild incrementally.
    [ "$pip_ran" -eq 0 ] || rm -rf "$VM_BUILD"
    (
        export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
        cmake -S "$VM_SRC" -B "$VM_BUILD" \
            -DCMAKE_INSTALL_PREFIX="$VM_PREFIX" \
            -DBUILD_TESTING=OFF \
            -DPython3_EXECUTABLE="$VENV/bin/python"
        cmake --build "$VM_BUILD" -j "$JOBS"
        rm -rf "$VM_PREFIX"   # no stale files from removed messages
        cmake --install "$VM_BUILD"
    )
    echo "$vm_key" >"$STAMPS/vision_msgs"
else
    log "vision_msgs: sources unchanged"
fi

# --- 5. this package ----------------------------------------------------------------------------
# Editable, so the console scripts (seg_perception_node, seg-perception) run this checkout.
if ! "$VENV/bin/python" - "$REPO" <<'EOF'
import sys, pathlib
try:
    import seg_perception
except ImportError:
    sys.exit(1)
here = pathlib.Path(seg_perception.__file__).resolve().parents[1]
sys.exit(0 if here == pathlib.Path(sys.argv[1]).resolve() else 1)
EOF
then
    log "installing seg_perception from $REPO (editable)"
    "$VENV/bin/python" -m pip install --no-deps --no-build-isolation -e "$REPO"
else
    log "seg_perception: installed from this checkout"
fi

# --- check ---------------------------------------------------------------------------------------
# In a clean shell, as users will run it: env.sh must be enough to use rclpy and vision_msgs.
env -u PYTHONPATH -u LD_LIBRARY_PATH -u AMENT_PREFIX_PATH -u CMAKE_PREFIX_PATH \
    -u _ROS_WHEELS_BOOTSTRAP_COMPLETE -u VIRTUAL_ENV \
    SEG_PERCEPTION_VENV="$VENV" bash -c '
    . "$1/scripts/env.sh"
    python -c "
import rclpy, sensor_msgs.msg
from vision_msgs.msg import Detection2DArray, LabelInfo
Detection2DArray(); LabelInfo()
print(\"[setup] check: rclpy and vision_msgs import from\", __import__(\"sys\").prefix)
"' _ "$REPO"
log "done. Use: . $REPO/scripts/env.sh"
