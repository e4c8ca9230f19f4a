#!/usr/bin/env bash
# Generates Sources/LeptonONNX/Proto/onnx.pb.swift from the ONNX schema (Apache-2.0), once; the
# output is committed, so neither protoc nor the plugin is a build dependency.
#
# The exact command (run from the repository root):
#   bash scripts/generate-onnx-proto.sh
# which runs
#   protoc --plugin=protoc-gen-swift=$tools/protoc-gen-swift --swift_opt=Visibility=Internal \
#          --swift_out=Sources/LeptonONNX/Proto -I $work $work/onnx.proto
# with onnx.proto copied into a temporary folder $work from the onnx wheel of the pinned Python
# environment (scripts/ml-env.sh; onnx 1.23, the proto2 schema), protoc = Debian's
# protobuf-compiler (installed here if missing) and protoc-gen-swift built from the local
# swift-protobuf mirror at the tag Package.swift pins (1.39.0).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=1.39.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! command -v protoc >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq -o DPkg::Lock::Timeout=300 protobuf-compiler >/dev/null
fi

python=$(bash scripts/ml-env.sh | tail -n1)
onnx_dir=$("$python" -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')
# onnx.proto in the wheel is the proto2 file (the package's default); only its messages are used.
cp "$onnx_dir/onnx.proto" "$work/onnx.proto"

tools="${LEPTON_PROTOC_GEN_SWIFT_DIR:-$HOME/.cache/lepton/tools/swift-protobuf-$tag}"
if [ ! -x "$tools/protoc-gen-swift" ]; then
  git clone --quiet --branch "$tag" --depth 1 /opt/swift-packages/apple/swift-protobuf.git "$work/swift-protobuf"
  (cd "$work/swift-protobuf" && timeout 3600 swift build -c release --product protoc-gen-swift >&2)
  mkdir -p "$tools"
  cp "$work/swift-protobuf/.build/release/protoc-gen-swift" "$tools/"
fi

mkdir -p Sources/LeptonONNX/Proto
protoc --plugin=protoc-gen-swift="$tools/protoc-gen-swift" --swift_opt=Visibility=Internal \
       --swift_out=Sources/LeptonONNX/Proto -I "$work" "$work/onnx.proto"
echo "wrote Sources/LeptonONNX/Proto/onnx.pb.swift" >&2
