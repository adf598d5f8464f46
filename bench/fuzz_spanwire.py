"""Fuzz the C trace and log decoders (collector/_spanwire.c) under AddressSanitizer and UBSan.

Builds the extension with the sanitizers into a temporary folder, then feeds both entry
points, ``decode`` (traces) and ``decode_logs``, random mutations (bit flips, byte edits,
cuts, insertions, repeated chunks) of valid requests: for traces the random requests of
tests/test_span_wire.py and slices of the ingest benchmark's realistic ones
(bench.workload), for logs those of tests/test_log_wire.py and of bench.logs_ingest. One
input in ten goes to the other entry point (a trace request read as logs and the other way
round). A memory error or undefined behaviour aborts with the sanitizer's report; a
decoder may decline any input (None) but must never crash.

Run: ``python -m bench.fuzz_spanwire [--seconds 240] [--seed 1] [--entry both|traces|logs]``;
it re-executes itself with the sanitizer runtimes preloaded.
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
    """Trace requests to mutate."""
    from tests.test_span_wire import RandomRequests

    generator = RandomRequests(seed=seed)
    found = [generator.request().SerializeToString() for _ in range(200)]
    found += [template.render(bytes(24), 0)[:6000] for template in build_templates(3, seed)]
    return [body for body in found if body]


def log_seeds(seed: int) -> list[bytes]:
    """Log requests to mutate."""
    from bench.logs_ingest import LogWorkload
    from tests.test_log_wire import RandomLogRequests

    generator = RandomLogRequests(seed=seed, valid_only=True)  # declined before any mutation: less to learn
    found = [generator.request().SerializeToString() for _ in range(200)]
    workload = LogWorkload(seed)
    found += [workload.request(time.time_ns(), records_per_request=16) for _ in range(3)]
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


def fuzz(seconds: float, seed: int, entry: str = "both") -> None:
    with tempfile.TemporaryDirectory(prefix="glimpse-fuzz-") as folder:
        module = load(build(Path(folder)))
        # Loaded first under its own name, the sanitized build is the one collector.span_wire
        # imports and configures (configure() runs once); any other would need configuring here.
        from collector import span_wire
        from tracing.semconv import RESOURCE_PROMOTED, SPAN_PROMOTED

        if span_wire._spanwire is not module:
            module.configure(span_wire._key_spec(SPAN_PROMOTED), span_wire._key_spec(RESOURCE_PROMOTED))
        rng = random.Random(seed)
        pools = {"traces": seeds(seed), "logs": log_seeds(seed)}
        decoders = {"traces": module.decode, "logs": module.decode_logs}
        entries = ["traces", "logs"] if entry == "both" else [entry]
        inputs = dict.fromkeys(entries, 0)
        taken = dict.fromkeys(entries, 0)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            name = rng.choice(entries)
            pool = pools[name if rng.random() < 0.9 else ("logs" if name == "traces" else "traces")]
            taken[name] += decoders[name](mutate(rng, rng.choice(pool))) is not None
            inputs[name] += 1
        for name in entries:
            print(
                f"{name}: {inputs[name]:,} inputs in {seconds:.0f} s, {taken[name]:,} decoded, the rest declined; "
                "no sanitizer report"
            )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz_spanwire", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--entry", choices=("both", "traces", "logs"), default="both", help="which decoder to fuzz")
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
    fuzz(args.seconds, args.seed, args.entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
