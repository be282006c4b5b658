"""The `ngvk` command line: argument parsing and output; the work happens in the engine and apps.

User errors (missing packages, bad files, impossible sizes) arrive as `NgvkError` and are printed as
one line on stderr with exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.errors import NgvkError

VERSION = "0.1.0"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f} MiB"


def cmd_info(args) -> int:
    from engine.compiler import compiler_version, glslang
    from engine.device import Device

    with Device() as device:
        info = device.info
        compiler = {"path": glslang(), "version": compiler_version()}
        if args.json:
            out = {
                "ngvk": VERSION,
                "device": info.as_dict(),
                "devices": [{"index": i, "name": n, "type": t} for i, n, t in device.all_devices],
                "compiler": compiler,
                "validation": device.validation,
            }
            print(json.dumps(out, indent=2))
            return 0
        rows = [
            ("device", f"{info.name} ({info.type}, index {info.index})"),
            ("driver", f"{info.driver_name} {info.driver_info}".strip() or str(info.driver_version)),
            ("Vulkan API", info.api_version),
            ("subgroup size", str(info.subgroup_size)),
            ("shared memory", f"{info.max_shared_memory // 1024} KiB per workgroup"),
            ("largest storage binding", _mib(info.max_storage_buffer_range)),
            ("largest allocation", _mib(info.max_memory_allocation) if info.max_memory_allocation else "not reported"),
            ("device-local memory", _mib(info.device_local_memory)),
            ("workgroup invocations", str(info.max_workgroup_invocations)),
            ("push constants", f"{info.max_push_constants} B"),
            ("fp16 arithmetic", _yes(info.float16)),
            ("16-bit storage", _yes(info.storage16)),
            ("float atomic add", f"buffers {_yes(info.float_atomic_add)}, shared {_yes(info.shared_float_atomic_add)}"),
            ("timestamps", f"{_yes(info.timestamps)} ({info.timestamp_period_ns:g} ns per tick)"),
            ("cooperative matrix", _yes(info.cooperative_matrix)),
            ("compiler", f"glslangValidator {compiler['version']} ({compiler['path']})"),
            ("validation", "on" if device.validation else "off (NGVK_VALIDATION=1 turns it on)"),
        ]
        width = max(len(k) for k, _ in rows)
        print(f"ngvk {VERSION}")
        for key, value in rows:
            print(f"  {key:<{width}}  {value}")
        if len(device.all_devices) > 1:
            print("  other devices (pick one with NGVK_DEVICE=<index or name>):")
            for index, name, kind in device.all_devices:
                if index != info.index:
                    print(f"    {index}: {name} ({kind})")
    return 0


def cmd_check(args) -> int:
    from engine.check import RELATIVE_TOLERANCE, run_checks
    from engine.device import Device

    with Device() as device:
        if not args.json:
            print(f"checking kernels on {device.info.name} against the NumPy reference")
            print(f"  tolerance: max |gpu - reference| <= {RELATIVE_TOLERANCE:g} * max |reference|")

        def show(result):
            if not args.json:
                mark = "ok  " if result.passed else "FAIL"
                print(
                    f"  {mark} {result.kernel:<12} {result.case:<34} max error {result.max_error:.2e}"
                    f"  (tolerance {result.tolerance:.1e}, {result.seconds:.2f} s)",
                    flush=True,
                )

        results = run_checks(device, progress=show)
        failed = [r for r in results if not r.passed]
        if args.json:
            print(json.dumps({"device": device.info.as_dict(), "results": [r.as_dict() for r in results]}, indent=2))
        else:
            print(f"{len(results) - len(failed)} of {len(results)} kernel checks passed")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ngvk",
        description="Neural graphics primitives on Vulkan: encodings, fully fused MLPs and the four "
        "instant-ngp apps as SPIR-V compute kernels, on any Vulkan device.",
    )
    parser.add_argument("--version", action="version", version=f"ngvk {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser("info", help="show the Vulkan device ngvk uses and what it supports")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=cmd_info)

    check = commands.add_parser("check", help="run every kernel against its NumPy reference")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NgvkError as error:
        print(f"ngvk: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ngvk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
