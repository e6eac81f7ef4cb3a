#!/usr/bin/env bash
# VNN-COMP: prepare_instance.sh VERSION BENCHMARK ONNX VNNLIB. Checks that both files can be read
# (compressed `.gz` ones included); exit 0 when the instance can be run. Nothing is converted ahead (the
# model is read in well under a second at run time), and no process is left over to stop: run_instance.sh
# kills its run at the time limit.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: prepare_instance.sh VERSION BENCHMARK ONNX VNNLIB" >&2; exit 1; }
version="$1"; onnx="$3"; vnnlib="$4"
[ "$version" = "v1" ] || { echo "prepare_instance.sh: unsupported interface version '$version'" >&2; exit 1; }
for f in "$onnx" "$vnnlib"; do
  [ -r "$f" ] || { echo "prepare_instance.sh: cannot read $f" >&2; exit 1; }
done
exit 0
