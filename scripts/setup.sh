#!/usr/bin/env bash
# Set up the development environment of seg_perception on Debian 12 / CPython 3.11 / x86_64:
#   1. Debian packages (compiler, CMake, Python headers, libusb for open3d),
#   2. a venv (default <repo>/.venv, override with SEG_PERCEPTION_VENV),
#   3. requirements.txt into it (torch, real ROS 2 Jazzy wheels from PyPI, test tools),
#   3b. detectron2's Python code (scripts/install_detectron2.sh; the detectron2 backend),
#   4. every ROS 2 interface package in third_party/ (vision_msgs, which has no wheel on PyPI,
#      and the project's own messages) built into $VENV/opt/<package>,
#   5. the ROS 2 command line, launch and launch_testing (../shared/ros2_overlay, when present),
#   6. this package, editable, with its console scripts, and the ament index layout colcon would
#      make ($VENV/share/seg_perception/{launch,config,rviz}, $VENV/lib/seg_perception/), so that
#      `ros2 run` and `ros2 launch seg_perception ...` find it.
# Idempotent: steps 3 to 5 are skipped when their stamp (a hash of their inputs) matches, so a
# second run only checks and takes seconds. Afterwards: `. scripts/env.sh`.
#
# Environment knobs:
#   SEG_PERCEPTION_VENV    venv location (default <repo>/.venv)
#   SEG_PERCEPTION_PYTHON  interpreter used to create the venv (default python3.11 on PATH)
#   SEG_PERCEPTION_JOBS    parallel build jobs (default: number of CPUs)
#   SEG_PERCEPTION_ROS2_OVERLAY  the ros2_overlay folder (default <repo>/../shared/ros2_overlay)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SEG_PERCEPTION_VENV:-$REPO/.venv}"
PYTHON="${SEG_PERCEPTION_PYTHON:-python3.11}"
JOBS="${SEG_PERCEPTION_JOBS:-$(nproc)}"
REQS="$REPO/requirements.txt"
REQS_NODEPS="$REPO/requirements-nodeps.txt"
OVERLAY="${SEG_PERCEPTION_ROS2_OVERLAY:-$REPO/../shared/ros2_overlay}"
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

# --- 4. ROS 2 interface packages (third_party/) -----------------------------------------------
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
build_interface_package() {
    local name="$1" src="$REPO/third_party/$1" build="$VENV/build/$1" prefix="$VENV/opt/$1" key
    key="$( { (cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); \
              echo "$req_key"; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$STAMPS/$name" 2>/dev/null || true)" = "$key" ] \
            && [ -d "$prefix/share/$name" ]; then
        log "$name: sources unchanged"
        return
    fi
    log "$name: building into $prefix (first time: minutes)"
    # A changed toolchain invalidates the CMake cache; otherwise rebuild incrementally.
    [ "$pip_ran" -eq 0 ] || rm -rf "$build"
    (
        # Interface packages may use each other's messages: every prefix in $VENV/opt is
        # visible to CMake.
        prefixes="$VENV"
        for dir in "$VENV"/opt/*/; do [ -d "$dir" ] && prefixes="${dir%/}:$prefixes"; done
        export AMENT_PREFIX_PATH="$prefixes" CMAKE_PREFIX_PATH="$prefixes" PATH="$VENV/bin:$PATH"
        cmake -S "$src" -B "$build" \
            -DCMAKE_INSTALL_PREFIX="$prefix" \
            -DBUILD_TESTING=OFF \
            -DPython3_EXECUTABLE="$VENV/bin/python"
        cmake --build "$build" -j "$JOBS"
        rm -rf "$prefix"   # no stale files from removed messages
        cmake --install "$build"
    )
    echo "$key" >"$STAMPS/$name"
}
# vision_msgs first: the project's own messages may use it.
build_interface_package vision_msgs
for dir in "$REPO"/third_party/*/; do
    name="$(basename "$dir")"
    if [ "$name" != vision_msgs ] && [ -f "$dir/package.xml" ]; then
        build_interface_package "$name"
    fi
done

# --- 5. ROS 2 command line, launch, launch_testing ----------------------------------------------
# The PyPI wheels lack the pure-Python ROS tools (ros2, launch, launch_ros, launch_testing);
# the ros2_overlay has them, built from the Jazzy tags. Its install.sh keeps its own stamp.
if [ -f "$OVERLAY/install.sh" ]; then
    JOBS="$JOBS" bash "$OVERLAY/install.sh" "$VENV"
elif "$VENV/bin/python" -c 'import launch_ros, ros2cli' 2>/dev/null; then
    log "ros2 command line: installed"
else
    log "WARNING: no ros2_overlay at $OVERLAY, so no ros2 command line or launch in this venv" \
        "(set SEG_PERCEPTION_ROS2_OVERLAY; with ROS 2 from apt, build with colcon instead)"
fi

# --- 6. this package ----------------------------------------------------------------------------
# Editable, so the console scripts (seg_perception_node, seg-perception) run this checkout. The
# check runs from / (in the repository root the checkout itself is importable and would hide a
# missing install) and also wants both console scripts in the venv.
installed_here() {
    [ -x "$VENV/bin/seg-perception" ] && [ -x "$VENV/bin/seg_perception_node" ] || return 1
    (cd / && "$VENV/bin/python" -c '
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("seg_perception")
here = pathlib.Path(spec.origin).resolve().parents[1] if spec and spec.origin else None
sys.exit(0 if here == pathlib.Path(sys.argv[1]).resolve() else 1)' "$REPO")
}
if installed_here; then
    log "seg_perception: installed from this checkout"
else
    log "installing seg_perception from $REPO (editable)"
    "$VENV/bin/python" -m pip install --no-deps --no-build-isolation -e "$REPO"
    installed_here || die "seg_perception is not importable from / after the editable install"
fi

# The layout of a `colcon build --symlink-install` in the venv prefix: `ros2 launch` and
# `ros2 run` find packages through the ament index. Real folders holding symlinks to each file
# of the checkout, as colcon makes them (ros2 launch does not descend into symlinked folders):
# edits are live; a new file appears after the next setup.sh.
SHARE="$VENV/share/seg_perception"
mkdir -p "$VENV/share/ament_index/resource_index/packages" "$SHARE" "$VENV/lib/seg_perception"
: >"$VENV/share/ament_index/resource_index/packages/seg_perception"
ln -sfn "$REPO/package.xml" "$SHARE/package.xml"
for folder in launch config rviz dds; do
    rm -rf "${SHARE:?}/$folder"
    mkdir -p "$SHARE/$folder"
    for file in "$REPO/$folder"/*; do
        [ -f "$file" ] && ln -s "$file" "$SHARE/$folder/$(basename "$file")"
    done
done
for script in seg_perception_node seg-perception; do
    ln -sfn "$VENV/bin/$script" "$VENV/lib/seg_perception/$script"
done
log "ament index: $SHARE -> $REPO"

# --- check ---------------------------------------------------------------------------------------
# In a clean shell from another directory, as users will run it: env.sh must be enough for the
# console scripts, rclpy, vision_msgs and (with the overlay) the ros2 command line.
env -u PYTHONPATH -u LD_LIBRARY_PATH -u AMENT_PREFIX_PATH -u CMAKE_PREFIX_PATH \
    -u _ROS_WHEELS_BOOTSTRAP_COMPLETE -u VIRTUAL_ENV \
    SEG_PERCEPTION_VENV="$VENV" bash -c '
    set -e
    . "$1/scripts/env.sh"
    cd /
    for command in seg-perception seg_perception_node; do
        command -v "$command" >/dev/null \
            || { echo "[setup] ERROR: $command is not on PATH after env.sh" >&2; exit 1; }
    done
    python -c "
import rclpy, sensor_msgs.msg
from vision_msgs.msg import Detection2DArray, LabelInfo
Detection2DArray(); LabelInfo()
print(\"[setup] check: rclpy and vision_msgs import from\", __import__(\"sys\").prefix)
"
    if command -v ros2 >/dev/null; then
        echo "[setup] check: ros2 finds seg_perception in $(ros2 pkg prefix seg_perception)"
    fi' _ "$REPO"
log "done. Use: . $REPO/scripts/env.sh"
