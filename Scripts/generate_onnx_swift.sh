#!/usr/bin/env bash
# Regenerates Sources/ONNXSchema/onnx.pb.swift from Scripts/onnx.proto.
# Done once and committed, because swift-protobuf's build plugin makes a first
# build take ~10 minutes.
# Versions used for the committed file: onnx.proto from the onnx 1.23.2 wheel
# (PyPI), protoc 3.21.12 (Debian 12 protobuf-compiler), protoc-gen-swift 1.39.0
# (built from apple/swift-protobuf at tag 1.39.0).
# Usage: Scripts/generate_onnx_swift.sh [PATH/TO/protoc-gen-swift]
set -euo pipefail
cd "$(dirname "$0")/.."
plugin="${1:-$(command -v protoc-gen-swift || true)}"
if [ -z "$plugin" ]; then
  echo "build it: git clone swift-protobuf; swift build -c release --product protoc-gen-swift" >&2
  exit 2
fi
if [ "${REFRESH_PROTO:-0}" = 1 ]; then
  cp "$(python3 -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))')" Scripts/onnx.proto
fi
protoc --plugin=protoc-gen-swift="$plugin" --swift_out=Sources/ONNXSchema \
  --swift_opt=Visibility=Public --proto_path=Scripts Scripts/onnx.proto
echo "wrote Sources/ONNXSchema/onnx.pb.swift" >&2
