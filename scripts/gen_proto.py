# Regenerates the Python code of trainwire's own protocol buffers.
#
# This is the ONE script that writes proto/*_pb2.py, proto/*_pb2.pyi and
# proto/*_pb2_grpc.py. Generated files are never hand-edited: change the
# .proto file and rerun `python scripts/gen_proto.py`.
"""Generate (or check) the Python code for the protos in ``proto/``.

Usage::

    python scripts/gen_proto.py          # regenerate into proto/
    python scripts/gen_proto.py --check  # exit 1 if proto/ is stale
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = REPO_ROOT / "proto"
# Import path under which the generated modules live (proto/ is installed as
# the package trainwire.proto), also used as protoc's virtual include path.
VIRTUAL_DIR = "trainwire/proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
FIX_COMMAND = "python scripts/gen_proto.py"


def proto_files(proto_dir: Path = PROTO_DIR) -> list[Path]:
    """Return the .proto sources in ``proto_dir``, sorted by name."""
    return sorted(proto_dir.glob("*.proto"))


def _well_known_include() -> Path:
    """Return grpc_tools' bundled include dir (google/protobuf/*.proto)."""
    spec = importlib.util.find_spec("grpc_tools")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("grpcio-tools is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "_proto"


def generate(out_dir: Path, proto_dir: Path = PROTO_DIR) -> dict[str, bytes]:
    """Run protoc on ``proto_dir`` into ``out_dir``; return {file name: content}.

    protoc writes under ``out_dir/trainwire/proto/``; the returned names are
    bare file names (e.g. ``artifact_pb2.py``) as they belong in ``proto/``.
    """
    sources = proto_files(proto_dir)
    if not sources:
        raise RuntimeError(f"no .proto files in {proto_dir}")
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{VIRTUAL_DIR}={proto_dir.resolve()}",
        f"-I{_well_known_include()}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(f"{VIRTUAL_DIR}/{source.name}" for source in sources),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed (exit {result.returncode}):\n{result.stderr}")
    generated_dir = out_dir / VIRTUAL_DIR
    return {
        path.name: path.read_bytes()
        for path in sorted(generated_dir.iterdir())
        if path.name.endswith(GENERATED_SUFFIXES)
    }


def stale_files(generated: dict[str, bytes], proto_dir: Path = PROTO_DIR) -> list[str]:
    """Return the names in ``generated`` whose copy in ``proto_dir`` differs."""
    stale: list[str] = []
    for name, content in sorted(generated.items()):
        committed = proto_dir / name
        if not committed.is_file() or committed.read_bytes() != content:
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the generated files in proto/ are stale",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trainwire-proto-") as tmp:
        generated = generate(Path(tmp))
    stale = stale_files(generated)
    if args.check:
        if stale:
            names = ", ".join(f"proto/{name}" for name in stale)
            print(
                f"Generated protobuf code is stale: {names}\n"
                f"Run `{FIX_COMMAND}` and commit the result.",
                file=sys.stderr,
            )
            return 1
        return 0
    for name in stale:
        (PROTO_DIR / name).write_bytes(generated[name])
        print(f"wrote proto/{name}")
    if not stale:
        print("proto/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
