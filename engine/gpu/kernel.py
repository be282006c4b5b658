"""Kernel: one compute pipeline, built from a shader under shaders/ and its reflected interface.

The shader declares its bindings, push constants, specialization constants and workgroup size once;
the kernel reads them from the compiled SPIR-V (see `spirv.py`), builds the descriptor-set layout and
pipeline from them, and checks every dispatch's buffers and push constants by name. Shaders declare
`layout(local_size_x_id = 0) in;` so the workgroup size is chosen here, at pipeline creation.
"""

from __future__ import annotations

import math
import struct

from ngvk.engine.gpu._vulkan import ffi, vk
from ngvk.engine.gpu.compiler import compile_shader
from ngvk.engine.errors import NgvkError
from ngvk.engine.gpu.spirv import STORAGE, STORAGE_TEXELS, TEXELS, UNIFORM, reflect

DESCRIPTOR_TYPES = {
    STORAGE: vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
    UNIFORM: vk.VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
    TEXELS: vk.VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
    STORAGE_TEXELS: vk.VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
}


class Kernel:
    """A compute pipeline with its descriptor-set and push-constant layout."""

    def __init__(self, device, shader: str, defines: dict | None = None, constants: dict | None = None, local_size: int = 64):
        self.device = device
        self.shader = shader
        self.defines = dict(defines or {})
        self.pipeline = None
        self.pipeline_layout = None
        self.set_layout = None
        spirv = compile_shader(shader, self.defines)
        self.reflection = reflect(spirv)
        self.bindings = self.reflection.bindings
        if any(b.set != 0 for b in self.bindings):
            raise ValueError(f"{shader}: ngvk kernels use descriptor set 0 only")

        # Specialization constants: the workgroup size (when the shader takes it by id) and `constants`.
        entries: dict[int, tuple[str, object]] = {}
        size_id = self.reflection.local_size_ids[0]
        if size_id is not None:
            if not 1 <= local_size <= device.info.max_workgroup_invocations:
                raise ValueError(f"{shader}: workgroup size {local_size} is beyond the device's limit")
            entries[size_id] = ("I", local_size)
            self.local_size = local_size
        else:
            self.local_size = self.reflection.local_size[0]
        for name, value in (constants or {}).items():
            spec_id = self.reflection.spec_constants.get(name)
            if spec_id is None:
                known = ", ".join(sorted(self.reflection.spec_constants)) or "none"
                raise ValueError(f"{shader} has no specialization constant {name} (it has: {known})")
            code = "f" if isinstance(value, float) else ("i" if int(value) < 0 else "I")
            entries[spec_id] = (code, value)
        self.constants = dict(constants or {})

        handle = device.handle
        try:
            layout_bindings = [
                vk.VkDescriptorSetLayoutBinding(
                    binding=b.binding,
                    descriptorType=DESCRIPTOR_TYPES[b.kind],
                    descriptorCount=1,
                    stageFlags=vk.VK_SHADER_STAGE_COMPUTE_BIT,
                )
                for b in self.bindings
            ]
            self.set_layout = vk.vkCreateDescriptorSetLayout(
                handle,
                vk.VkDescriptorSetLayoutCreateInfo(bindingCount=len(layout_bindings), pBindings=layout_bindings or None),
                None,
            )
            self.push_size = (self.reflection.push_constant_size + 3) // 4 * 4
            if self.push_size > device.info.max_push_constants:
                raise NgvkError(f"{shader}: {self.push_size} B of push constants exceed the device's {device.info.max_push_constants} B")
            push_range = vk.VkPushConstantRange(
                stageFlags=vk.VK_SHADER_STAGE_COMPUTE_BIT, offset=0, size=self.push_size
            )
            set_layouts = [self.set_layout]
            self.pipeline_layout = vk.vkCreatePipelineLayout(
                handle,
                vk.VkPipelineLayoutCreateInfo(
                    setLayoutCount=1,
                    pSetLayouts=set_layouts,
                    pushConstantRangeCount=1 if self.push_size else 0,
                    pPushConstantRanges=[push_range] if self.push_size else None,
                ),
                None,
            )
            module = vk.vkCreateShaderModule(
                handle, vk.VkShaderModuleCreateInfo(codeSize=len(spirv), pCode=spirv), None
            )
            try:
                # Nested structs and strings must stay referenced until the create call returns.
                ids = sorted(entries)
                map_entries = [
                    vk.VkSpecializationMapEntry(constantID=spec_id, offset=4 * i, size=4)
                    for i, spec_id in enumerate(ids)
                ]
                packed = b"".join(struct.pack("<" + entries[i][0], entries[i][1]) for i in ids)
                spec_data = ffi.new("char[]", packed) if packed else None
                spec_info = vk.VkSpecializationInfo(
                    mapEntryCount=len(map_entries),
                    pMapEntries=map_entries or None,
                    dataSize=len(packed),
                    pData=spec_data,
                )
                entry_point = "main"
                stage = vk.VkPipelineShaderStageCreateInfo(
                    stage=vk.VK_SHADER_STAGE_COMPUTE_BIT,
                    module=module,
                    pName=entry_point,
                    pSpecializationInfo=spec_info if ids else None,
                )
                create_info = vk.VkComputePipelineCreateInfo(stage=stage, layout=self.pipeline_layout)
                self.pipeline = vk.vkCreateComputePipelines(handle, None, 1, [create_info], None)[0]
            finally:
                vk.vkDestroyShaderModule(handle, module, None)
        except BaseException:
            self.close()
            raise
        device._track(self)
        device.check_validation()

    def groups(self, n: int) -> tuple[int, int, int]:
        """Workgroups for `n` items, one per invocation; beyond the device's x limit the grid goes 2D
        (shaders index with `global_index()` from lib/common.glsl and check it against their count)."""
        total = math.ceil(n / self.local_size)
        max_x = self.device.info.max_workgroup_count[0]
        if total <= max_x:
            return (total, 1, 1)
        return (max_x, math.ceil(total / max_x), 1)

    def check_names(self, what: str, given, declared: set) -> None:
        """A ValueError naming what is unknown or missing when `given` names are not `declared`."""
        unknown, missing = set(given) - declared, declared - set(given)
        if unknown or missing:
            raise ValueError(
                f"{self.shader}: {what} "
                + (f"unknown {sorted(unknown)} " if unknown else "")
                + (f"missing {sorted(missing)} " if missing else "")
                + f"(declared: {sorted(declared)})"
            )

    def pack_push(self, values: dict | None) -> bytes:
        """The push-constant block with `values` by member name; every member must be given."""
        values = dict(values or {})
        members = self.reflection.push_constants
        self.check_names("push constants", values, {m.name for m in members})
        block = bytearray(self.push_size)
        for m in members:
            value = values[m.name]
            items = list(value) if m.count > 1 else [value]
            if len(items) != m.count:
                raise ValueError(f"{self.shader}: push constant {m.name} takes {m.count} values")
            items = [float(v) if m.scalar == "f" else int(v) for v in items]
            struct.pack_into(f"<{m.count}{m.scalar}", block, m.offset, *items)
        return bytes(block)

    def close(self) -> None:
        handle = self.device.handle
        if self.pipeline is not None:
            vk.vkDestroyPipeline(handle, self.pipeline, None)
            self.pipeline = None
        if self.pipeline_layout is not None:
            vk.vkDestroyPipelineLayout(handle, self.pipeline_layout, None)
            self.pipeline_layout = None
        if self.set_layout is not None:
            vk.vkDestroyDescriptorSetLayout(handle, self.set_layout, None)
            self.set_layout = None
        self.device._untrack(self)

    def __repr__(self) -> str:
        return f"Kernel({self.shader!r}, defines={self.defines}, local_size={self.local_size})"
