"""Fuzz the C trace decoder (collector/_spanwire.c) under AddressSanitizer and UBSan.

Builds the extension with the sanitizers into a temporary folder, then feeds it random
mutations (bit flips, byte edits, cuts, insertions, repeated chunks) of valid requests:
the random requests of tests/test_span_wire.py and slices of the ingest benchmark's
realistic ones (bench.workload). A memory error or undefined behaviour aborts with the sanitizer's report; the
decoder may decline any input (None) but must never crash.

Run: ``python -m bench.fuzz_spanwire [--seconds 240] [--seed 1]``; it re-executes itself
with the sanitizer runtimes preloaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import ModuleType

from bench.workload import build_templates

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "collector" / "_spanwire.c"
RUNTIMES = ("libasan.so", "libubsan.so")


def build(folder: Path) -> Path:
    target = folder / f"_spanwire{sysconfig.get_config_var('EXT_SUFFIX')}"
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-std=c11", "-fPIC", "-shared"]
    include = sysconfig.get_paths()["include"]
    subprocess.run(["gcc", *flags, f"-I{include}", str(SOURCE), "-o", str(target)], check=True)
    return target


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("collector._spanwire", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seeds(seed: int) -> list[bytes]:
    from tests.test_span_wire import RandomRequests

    generator = RandomRequests(seed=seed)
    found = [generator.request().SerializeToString() for _ in range(200)]
    found += [template.render(bytes(24), 0)[:6000] for template in build_templates(3, seed)]
    return [body for body in found if body]


def mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 6)):
        if not data:
            data.extend(rng.randbytes(4))
        at = rng.randrange(len(data))
        choice = rng.randrange(6)
        if choice == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif choice == 1:  # a tag or length byte that protobuf cares about
            data[at] = rng.choice([0x00, 0x7F, 0x80, 0xFF, 0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x42, 0x4A])
        elif choice == 2:
            del data[at : at + rng.randint(1, 8)]
        elif choice == 3:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif choice == 4:
            start = rng.randrange(len(data))
            data[at:at] = data[start : start + rng.randint(1, 64)]
        else:
            del data[rng.randrange(len(data) + 1) :]
    return bytes(data)


def fuzz(seconds: float, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="glimpse-fuzz-") as folder:
        module = load(build(Path(folder)))
        from collector.span_wire import _key_spec
        from tracing.semconv import RESOURCE_PROMOTED, SPAN_PROMOTED

        module.configure(_key_spec(SPAN_PROMOTED), _key_spec(RESOURCE_PROMOTED))
        rng = random.Random(seed)
        pool = seeds(seed)
        deadline = time.monotonic() + seconds
        inputs = taken = 0
        while time.monotonic() < deadline:
            taken += module.decode(mutate(rng, rng.choice(pool))) is not None
            inputs += 1
        print(f"{inputs:,} inputs in {seconds:.0f} s, {taken:,} decoded, the rest declined; no sanitizer report")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_spanwire", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if "GLIMPSE_FUZZ_CHILD" not in os.environ:
        runtimes = [
            subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
            for name in RUNTIMES
        ]
        env = {
            **os.environ,
            "GLIMPSE_FUZZ_CHILD": "1",
            "LD_PRELOAD": ":".join(runtimes),
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
            "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
        }
        command = [sys.executable, "-m", __spec__.name if __spec__ else "bench.fuzz_spanwire", *sys.argv[1:]]
        return subprocess.run(command, env=env, check=False).returncode
    fuzz(args.seconds, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
