# Source me (bash): `. scripts/env.sh` from any directory, after scripts/setup.sh.
# Activates the venv and exports what the pip-installed ROS 2 Jazzy, the interface packages built
# into $VENV/opt (vision_msgs, the project's messages, the ros2_overlay's composition_interfaces)
# and the ament index layout of seg_perception in the venv need. Everything is exported, so subprocesses (nodes started with subprocess.Popen, console
# scripts in the venv, pytest) inherit it. Re-sourcing does not grow the path variables.

_sp_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sp_venv="${SEG_PERCEPTION_VENV:-$_sp_repo/.venv}"

if [ ! -f "$_sp_venv/bin/activate" ]; then
    echo "env.sh: no venv at $_sp_venv; run $_sp_repo/scripts/setup.sh first" >&2
    unset _sp_repo _sp_venv
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "$_sp_venv/bin/activate"

# _sp_prepend VAR DIR...: put DIRs in front of $VAR, dropping earlier copies of them.
_sp_prepend() {
    local var="$1" dir out
    shift
    out="${!var:-}"
    for dir in "$@"; do
        out=":$out:"
        out="${out//:$dir:/:}"
        out="${out#:}"
        out="${out%:}"
    done
    out="$(IFS=:; echo "$*")${out:+:$out}"
    export "$var=$out"
}

# Interface packages built by setup.sh (one prefix each in $VENV/opt).
_sp_opt=()
for _sp_dir in "$_sp_venv"/opt/*/; do
    [ -d "$_sp_dir" ] && _sp_opt+=("${_sp_dir%/}")
done
# ROS looks packages (and message type supports) up in the ament index of these prefixes.
_sp_prepend AMENT_PREFIX_PATH "${_sp_opt[@]}" "$_sp_venv"
_sp_prepend CMAKE_PREFIX_PATH "${_sp_opt[@]}" "$_sp_venv"
# Shared libraries: the wheels put theirs in $VENV/lib and site-packages/ros_*.libs; rclpy finds
# type-support libraries (ours too) by searching LD_LIBRARY_PATH.
_sp_prepend LD_LIBRARY_PATH "${_sp_opt[@]/%//lib}" "$_sp_venv/lib" \
    $(ls -d "$_sp_venv"/lib/python3.11/site-packages/ros_*.libs 2>/dev/null)
if [ "${#_sp_opt[@]}" -gt 0 ]; then
    _sp_prepend PYTHONPATH "${_sp_opt[@]/%//lib/python3.11/site-packages}"
fi
# The wheels' ros_wheels_bootstrapper.pth re-executes every Python start-up to set
# LD_LIBRARY_PATH (without our vision_msgs). It is complete already: skip the re-exec.
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Large images over best-effort QoS need a bigger shared-memory segment (see the file's comment);
# a profile the user chose already is kept.
export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-$_sp_repo/dds/fastdds_large_images.xml}"

unset -f _sp_prepend
unset _sp_repo _sp_venv _sp_opt _sp_dir
