"""SPIR-V reflection: the interface a compute shader declares, read from its compiled binary.

A kernel's bindings, push constants, specialization constants and workgroup size are declared once,
in the GLSL. This module reads them back from the SPIR-V so the Python side binds buffers and packs
push constants by name and cannot silently disagree with the shader.

Binding names: a block's instance name when it has one, else the name of its only member
(`buffer Positions { float positions[]; };` binds as "positions"), else the block's type name; a
texel buffer (`uniform samplerBuffer grid_params;`, or `uniform imageBuffer` for writing) binds by its
variable name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAGIC = 0x07230203

# Opcodes (SPIR-V specification, section 3.52).
OP_NAME, OP_MEMBER_NAME = 5, 6
OP_EXECUTION_MODE, OP_EXECUTION_MODE_ID = 16, 331
OP_TYPE_BOOL, OP_TYPE_INT, OP_TYPE_FLOAT, OP_TYPE_VECTOR = 20, 21, 22, 23
OP_TYPE_IMAGE, OP_TYPE_SAMPLED_IMAGE = 25, 27
OP_TYPE_ARRAY, OP_TYPE_RUNTIME_ARRAY, OP_TYPE_STRUCT, OP_TYPE_POINTER = 28, 29, 30, 32
OP_CONSTANT = 43
OP_SPEC_CONSTANT_TRUE, OP_SPEC_CONSTANT_FALSE, OP_SPEC_CONSTANT = 48, 49, 50
OP_SPEC_CONSTANT_COMPOSITE = 51
OP_VARIABLE, OP_DECORATE, OP_MEMBER_DECORATE = 59, 71, 72

# Decorations, storage classes and execution modes used here.
DEC_SPEC_ID, DEC_BLOCK, DEC_BUFFER_BLOCK, DEC_BUILTIN = 1, 2, 3, 11
DEC_NON_WRITABLE, DEC_BINDING, DEC_DESCRIPTOR_SET, DEC_OFFSET = 24, 33, 34, 35
SC_UNIFORM_CONSTANT, SC_UNIFORM, SC_PUSH_CONSTANT, SC_STORAGE_BUFFER = 0, 2, 9, 12
DIM_BUFFER = 5
MODE_LOCAL_SIZE, MODE_LOCAL_SIZE_ID = 17, 38
BUILTIN_WORKGROUP_SIZE = 25


# What a binding is: a storage buffer, a uniform buffer, a uniform texel buffer (samplerBuffer) or a
# storage texel buffer (imageBuffer).
STORAGE, UNIFORM, TEXELS, STORAGE_TEXELS = "storage", "uniform", "texels", "storage_texels"


@dataclass
class Binding:
    name: str
    binding: int
    set: int
    kind: str  # STORAGE, UNIFORM, TEXELS or STORAGE_TEXELS
    readonly: bool

    @property
    def storage(self) -> bool:
        return self.kind == STORAGE


@dataclass
class PushMember:
    name: str
    offset: int
    scalar: str  # 'f' float32, 'i' int32, 'I' uint32 (struct module codes)
    count: int  # components: 1 for a scalar, N for a vecN


@dataclass
class Reflection:
    bindings: list[Binding] = field(default_factory=list)
    push_constants: list[PushMember] = field(default_factory=list)
    push_constant_size: int = 0
    spec_constants: dict[str, int] = field(default_factory=dict)  # name -> constant_id
    local_size: tuple[int, int, int] = (1, 1, 1)
    local_size_ids: tuple[int | None, int | None, int | None] = (None, None, None)

    def binding(self, name: str) -> Binding | None:
        return next((b for b in self.bindings if b.name == name), None)


def _string(words: list[int]) -> str:
    raw = b"".join(struct.pack("<I", w) for w in words)
    return raw.split(b"\0", 1)[0].decode("utf-8")


def reflect(spirv: bytes) -> Reflection:
    """Read the compute interface out of a SPIR-V module."""
    words = struct.unpack(f"<{len(spirv) // 4}I", spirv)
    if words[0] != MAGIC:
        raise ValueError("not a SPIR-V module")
    names: dict[int, str] = {}
    member_names: dict[tuple[int, int], str] = {}
    decorations: dict[int, dict[int, list[int]]] = {}
    member_offsets: dict[tuple[int, int], int] = {}
    member_readonly: dict[tuple[int, int], bool] = {}
    types: dict[int, tuple] = {}
    constants: dict[int, int] = {}
    spec_ids: dict[int, int] = {}  # result id -> literal default value
    composites: dict[int, list[int]] = {}  # spec-constant composite id -> constituent ids
    variables: list[tuple[int, int, int]] = []  # (pointer type, id, storage class)
    local_size = (1, 1, 1)
    local_size_ids: tuple = (None, None, None)

    i = 5
    while i < len(words):
        count, opcode = words[i] >> 16, words[i] & 0xFFFF
        operands = list(words[i + 1 : i + count])
        i += count
        if opcode == OP_NAME:
            names[operands[0]] = _string(operands[1:])
        elif opcode == OP_MEMBER_NAME:
            member_names[(operands[0], operands[1])] = _string(operands[2:])
        elif opcode == OP_DECORATE:
            decorations.setdefault(operands[0], {})[operands[1]] = operands[2:]
        elif opcode == OP_MEMBER_DECORATE:
            key = (operands[0], operands[1])
            if operands[2] == DEC_OFFSET:
                member_offsets[key] = operands[3]
            elif operands[2] == DEC_NON_WRITABLE:
                member_readonly[key] = True
        elif opcode == OP_EXECUTION_MODE and operands[1] == MODE_LOCAL_SIZE:
            local_size = tuple(operands[2:5])
        elif opcode == OP_EXECUTION_MODE_ID and operands[1] == MODE_LOCAL_SIZE_ID:
            local_size_ids = tuple(operands[2:5])
        elif opcode == OP_TYPE_BOOL:
            types[operands[0]] = ("bool",)
        elif opcode == OP_TYPE_INT:
            types[operands[0]] = ("int", operands[1], operands[2])
        elif opcode == OP_TYPE_FLOAT:
            types[operands[0]] = ("float", operands[1])
        elif opcode == OP_TYPE_VECTOR:
            types[operands[0]] = ("vector", operands[1], operands[2])
        elif opcode in (OP_TYPE_ARRAY, OP_TYPE_RUNTIME_ARRAY):
            types[operands[0]] = ("array", operands[1])
        elif opcode == OP_TYPE_IMAGE:
            types[operands[0]] = ("image", operands[2], operands[6])  # (kind, dim, sampled: 1 or 2)
        elif opcode == OP_TYPE_SAMPLED_IMAGE:
            types[operands[0]] = ("sampled_image", operands[1])
        elif opcode == OP_TYPE_STRUCT:
            types[operands[0]] = ("struct", operands[1:])
        elif opcode == OP_TYPE_POINTER:
            types[operands[0]] = ("pointer", operands[1], operands[2])
        elif opcode == OP_CONSTANT and len(operands) >= 3:
            constants[operands[1]] = operands[2]
        elif opcode in (OP_SPEC_CONSTANT, OP_SPEC_CONSTANT_TRUE, OP_SPEC_CONSTANT_FALSE):
            spec_ids[operands[1]] = operands[2] if opcode == OP_SPEC_CONSTANT else int(opcode == OP_SPEC_CONSTANT_TRUE)
        elif opcode == OP_SPEC_CONSTANT_COMPOSITE:
            composites[operands[1]] = operands[2:]
        elif opcode == OP_VARIABLE:
            variables.append((operands[0], operands[1], operands[2]))

    reflection = Reflection(local_size=local_size)
    for result_id in spec_ids:
        spec = decorations.get(result_id, {}).get(DEC_SPEC_ID)
        if spec is not None:
            reflection.spec_constants[names.get(result_id, f"constant_{spec[0]}")] = spec[0]
    # `layout(local_size_x_id = N)` becomes either a LocalSizeId execution mode (SPIR-V 1.6) or a
    # gl_WorkGroupSize spec-constant composite whose components carry the SpecIds (older targets).
    def spec_id_of(constant_id):
        return decorations.get(constant_id, {}).get(DEC_SPEC_ID, [None])[0]

    if any(x is not None for x in local_size_ids):
        reflection.local_size_ids = tuple(spec_id_of(x) if x is not None else None for x in local_size_ids)
    for composite_id, constituents in composites.items():
        if decorations.get(composite_id, {}).get(DEC_BUILTIN) == [BUILTIN_WORKGROUP_SIZE]:
            reflection.local_size_ids = tuple(spec_id_of(x) for x in constituents)
            reflection.local_size = tuple(
                spec_ids.get(x, constants.get(x, 1)) for x in constituents
            )

    # The workgroup size is set through Kernel(local_size=...), not as a named constant.
    reflection.spec_constants = {
        name: spec_id for name, spec_id in reflection.spec_constants.items() if spec_id not in reflection.local_size_ids
    }

    for pointer_type, var_id, storage_class in variables:
        if storage_class == SC_UNIFORM_CONSTANT:
            pointee = types.get(types[pointer_type][2], ())
            image = types.get(pointee[1], ()) if pointee and pointee[0] == "sampled_image" else pointee
            deco = decorations.get(var_id, {})
            if image and image[0] == "image" and image[1] == DIM_BUFFER and DEC_BINDING in deco:
                name = names.get(var_id, f"binding{deco[DEC_BINDING][0]}")
                kind = TEXELS if pointee[0] == "sampled_image" else STORAGE_TEXELS
                reflection.bindings.append(
                    Binding(name, deco[DEC_BINDING][0], deco.get(DEC_DESCRIPTOR_SET, [0])[0], kind, kind == TEXELS)
                )
            continue
        if storage_class not in (SC_UNIFORM, SC_STORAGE_BUFFER, SC_PUSH_CONSTANT):
            continue
        struct_id = types[pointer_type][2]
        struct_type = types.get(struct_id)
        if not struct_type or struct_type[0] != "struct":
            continue
        members = struct_type[1]
        if storage_class == SC_PUSH_CONSTANT:
            size = 0
            for index, member_type in enumerate(members):
                scalar, count = _scalar_layout(types, member_type)
                offset = member_offsets[(struct_id, index)]
                name = member_names.get((struct_id, index), f"member{index}")
                reflection.push_constants.append(PushMember(name, offset, scalar, count))
                size = max(size, offset + 4 * count)
            reflection.push_constant_size = size
            continue
        deco = decorations.get(var_id, {})
        if DEC_BINDING not in deco:
            continue
        struct_deco = decorations.get(struct_id, {})
        storage = storage_class == SC_STORAGE_BUFFER or DEC_BUFFER_BLOCK in struct_deco
        name = names.get(var_id, "")
        if not name:
            name = member_names.get((struct_id, 0), "") if len(members) == 1 else ""
        if not name:
            name = names.get(struct_id, f"binding{deco[DEC_BINDING][0]}")
        readonly = all(member_readonly.get((struct_id, m), False) for m in range(len(members)))
        reflection.bindings.append(
            Binding(name, deco[DEC_BINDING][0], deco.get(DEC_DESCRIPTOR_SET, [0])[0], STORAGE if storage else UNIFORM, readonly)
        )
    reflection.bindings.sort(key=lambda b: (b.set, b.binding))
    return reflection


def _scalar_layout(types: dict, type_id: int) -> tuple[str, int]:
    kind = types[type_id]
    if kind[0] == "float" and kind[1] == 32:
        return "f", 1
    if kind[0] == "int" and kind[1] == 32:
        return ("i" if kind[2] else "I"), 1
    if kind[0] == "vector":
        scalar, _ = _scalar_layout(types, kind[1])
        return scalar, kind[2]
    raise ValueError(f"unsupported push-constant member type {kind}")
