#!/usr/bin/env bash
# Install detectron2's Python code into a venv: ./scripts/install_detectron2.sh VENV
#
# detectron2 has no working wheel on PyPI. The sdist pb1-detectron2==0.6 holds its full Python
# code and model-zoo configs (not its C++ ops, which only rotated boxes and deformable
# convolutions need). This script downloads it, extracts the package to VENV/opt/detectron2,
# adds an empty detectron2/_C.py, puts the folder on the venv's path with a .pth file and installs
# the pure-Python dependencies of requirements-detectron2.txt. Running it again does nothing.
# The backend aliases PIL.Image.LINEAR (gone in Pillow 10) itself; detectron2 also needs
# pkg_resources (setuptools 79.0.1 in requirements.txt).
set -euo pipefail

venv="${1:?usage: $0 VENV}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$venv/bin/python"
dest="$venv/opt/detectron2"
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
pth="$site/seg_perception_detectron2.pth"

"$python" -m pip install -q -r "$repo/requirements-detectron2.txt"

if [ -f "$dest/detectron2/_C.py" ] && [ -f "$dest/detectron2/model_zoo/configs/COCO-PanopticSegmentation/panoptic_fpn_R_50_1x.yaml" ] \
        && [ -f "$pth" ]; then
    echo "install_detectron2.sh: detectron2 already in $dest"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# --no-build-isolation: pip prepares the sdist's metadata with the venv's torch (its setup.py
# imports torch); nothing is compiled.
"$python" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$work" \
    pb1-detectron2==0.6
tar -xzf "$work"/pb1-detectron2-0.6.tar.gz -C "$work"
rm -rf "$dest"
mkdir -p "$dest"
cp -r "$work/pb1-detectron2-0.6/detectron2" "$dest/"
: > "$dest/detectron2/_C.py"
echo "$dest" > "$pth"
echo "install_detectron2.sh: detectron2 0.6 (Python only) in $dest, on the path via $pth"
