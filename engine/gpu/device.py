"""Device: the Vulkan instance, the chosen physical device, the logical device and its queue.

The device owns everything created on it (buffers, kernels, sequences) and releases them when it is
closed, so `with Device() as device:` leaves nothing behind. It picks a GPU when there is one and falls
back to the CPU driver (lavapipe); `NGVK_DEVICE=<index or name substring>` picks one explicitly, and
`NGVK_DEVICE=gpu:K` the K-th GPU in Vulkan's order (a Ray actor's GPU: apps/path_render.py).
With `NGVK_VALIDATION=1` the Khronos validation layer runs and every message of error severity is
collected and raised as a `ValidationError` at the next check point (kernel creation, submission,
waiting, closing): a callback from the driver cannot raise into Python directly.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field

from ngvk.engine.gpu._vulkan import ffi, vk
from ngvk.engine.errors import NgvkError, SetupError, ValidationError

log = logging.getLogger("ngvk")

VALIDATION_LAYER = "VK_LAYER_KHRONOS_validation"
ATOMIC_FLOAT_EXTENSION = "VK_EXT_shader_atomic_float"
COOPERATIVE_MATRIX_EXTENSION = "VK_KHR_cooperative_matrix"
# The first Vulkan headers (1.3.255) with VK_KHR_cooperative_matrix: a validation layer built before
# them does not know the extension and reports its structures and shaders as errors (below).
COOPERATIVE_MATRIX_HEADER = (1 << 22) | (3 << 12) | 255
# What such a layer reports about valid cooperative-matrix use (Debian 12's is 1.3.239): the
# feature structure in vkCreateDevice's chain (VkStructureType 1000506000), and in every shader that
# uses the extension, its SPIR-V extension and capability (CooperativeMatrixKHR = 6022), which that
# layer's SPIR-V validator and optimizer (run to apply specialization constants) cannot parse. Only these are set aside, and only on such a layer with the
# extension enabled; everything else is validated as usual.
COOPERATIVE_MATRIX_LAYER_GAPS = (
    "unknown VkStructureType (1000506000)",
    "Invalid capability operand: 6022",
    "SPIR-V Extension (SPV_KHR_cooperative_matrix) was declared that is not supported",
    "A SPIR-V Capability (Unhandled OpCapability) was declared that is not supported",
    "attempted to apply specialization constants with spirv-opt but failed",
)

DEVICE_TYPE_NAMES = {
    vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: "discrete GPU",
    vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: "integrated GPU",
    vk.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: "virtual GPU",
    vk.VK_PHYSICAL_DEVICE_TYPE_CPU: "CPU",
    vk.VK_PHYSICAL_DEVICE_TYPE_OTHER: "other",
}
# Lower is preferred: a real GPU first, the CPU driver last.
_TYPE_RANK = {
    vk.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: 0,
    vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: 1,
    vk.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: 2,
    vk.VK_PHYSICAL_DEVICE_TYPE_CPU: 3,
    vk.VK_PHYSICAL_DEVICE_TYPE_OTHER: 4,
}
# VkComponentTypeKHR and VkScopeKHR values, as the names `ngvk info` prints.
COMPONENT_TYPE_NAMES = {
    0: "float16", 1: "float32", 2: "float64", 3: "int8", 4: "int16", 5: "int32", 6: "int64",
    7: "uint8", 8: "uint16", 9: "uint32", 10: "uint64",
}
SCOPE_NAMES = {1: "device", 2: "workgroup", 3: "subgroup", 5: "queue family"}

NO_DEVICE_HINT = (
    "install a Vulkan driver: `apt-get install mesa-vulkan-drivers` gives the CPU driver (lavapipe), "
    "or install your GPU vendor's Vulkan driver"
)


def validation_requested() -> bool:
    """True when NGVK_VALIDATION asks for the validation layers."""
    return os.environ.get("NGVK_VALIDATION", "").strip() not in ("", "0", "false", "no")


def _version_string(version: int) -> str:
    return f"{version >> 22}.{(version >> 12) & 0x3FF}.{version & 0xFFF}"


def _c_string(chars) -> str:
    """A C string field as str (the `vulkan` package already converts some of them)."""
    if isinstance(chars, str):
        return chars
    return ffi.string(chars).decode("utf-8", "replace")


@dataclass
class DeviceInfo:
    """What `ngvk info` reports and what kernels need to know about the device."""

    index: int
    name: str
    type: str
    vendor_id: int
    device_id: int
    api_version: str
    driver_version: int
    driver_name: str
    driver_info: str
    subgroup_size: int
    subgroup_arithmetic: bool
    max_shared_memory: int
    max_storage_buffer_range: int
    max_uniform_buffer_range: int
    max_texel_buffer_elements: int
    min_storage_buffer_offset_alignment: int
    min_texel_buffer_offset_alignment: int
    max_workgroup_invocations: int
    max_workgroup_count: tuple[int, int, int]
    max_push_constants: int
    max_memory_allocation: int
    device_local_memory: int
    unified_memory: bool
    timestamps: bool
    timestamp_period_ns: float
    float16: bool
    storage16: bool
    float_atomic_add: bool
    shared_float_atomic_add: bool
    cooperative_matrix: bool  # VK_KHR_cooperative_matrix advertised, its feature supported and enabled
    # What vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR lists, one tuple per entry:
    # (M, N, K, A type, B type, C type, result type, scope), types and scope by name ("float16", "subgroup").
    cooperative_matrix_shapes: list[tuple] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("extensions")
        out["max_workgroup_count"] = list(self.max_workgroup_count)
        out["cooperative_matrix_shapes"] = [list(shape) for shape in self.cooperative_matrix_shapes]
        return out


# The `vulkan` package routes every debug-utils callback through one module-level function, so one
# router serves all devices; each messenger passes its device through pUserData.
def _debug_callback(severity, message_types, callback_data, user_data):
    device = ffi.from_handle(user_data)
    message = _c_string(callback_data.pMessage)
    if any(gap in message for gap in device.validation_gaps):
        log.debug("vulkan validation (a layer older than the extension): %s", message)
    elif severity & vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT:
        device.validation_errors.append(message)
    else:
        log.warning("vulkan validation: %s", message)
    return vk.VK_FALSE


class Device:
    """A Vulkan device with one queue that can run compute (and, for the viewer, graphics) work."""

    def __init__(self, instance_extensions=(), device_extensions=(), validation: bool | None = None):
        self.validation = validation_requested() if validation is None else validation
        self.validation_errors: list[str] = []
        self.validation_gaps: tuple[str, ...] = ()  # messages of a layer older than an extension in use
        self.validation_layer_version = 0
        self._children: dict[int, object] = {}
        self._kernel_cache: dict = {}
        self._messenger = None
        self._user_handle = None
        self.handle = None
        self.command_pool = None
        self.instance = None
        try:
            self._create_instance(list(instance_extensions))
            self._choose_physical_device()
            self._create_device(list(device_extensions))
        except BaseException:
            self.close()
            raise

    # ---- creation -----------------------------------------------------------------------------

    def _create_instance(self, extensions: list[str]) -> None:
        layers = []
        if self.validation:
            available = {_c_string(p.layerName): p.specVersion for p in vk.vkEnumerateInstanceLayerProperties()}
            if VALIDATION_LAYER not in available:
                raise SetupError(
                    f"NGVK_VALIDATION is set but {VALIDATION_LAYER} is not installed: "
                    "`apt-get install vulkan-validationlayers`"
                )
            layers.append(VALIDATION_LAYER)
            self.validation_layer_version = available[VALIDATION_LAYER]
            extensions = extensions + ["VK_EXT_debug_utils"]
        try:
            loader_version = vk.vkEnumerateInstanceVersion()
        except Exception:  # a Vulkan 1.0 loader has no vkEnumerateInstanceVersion
            loader_version = vk.VK_API_VERSION_1_0
        self.api_version = min(loader_version, vk.VK_MAKE_VERSION(1, 3, 0))
        app_info = vk.VkApplicationInfo(
            pApplicationName="ngvk",
            applicationVersion=1,
            pEngineName="ngvk",
            engineVersion=1,
            apiVersion=self.api_version,
        )
        create_info = vk.VkInstanceCreateInfo(
            pApplicationInfo=app_info,
            enabledLayerCount=len(layers),
            ppEnabledLayerNames=layers,
            enabledExtensionCount=len(extensions),
            ppEnabledExtensionNames=extensions,
        )
        try:
            self.instance = vk.vkCreateInstance(create_info, None)
        except (vk.VkErrorIncompatibleDriver, vk.VkErrorInitializationFailed):
            raise SetupError(f"no Vulkan device found: {NO_DEVICE_HINT}") from None
        except vk.VkErrorExtensionNotPresent:
            raise SetupError(
                f"the Vulkan loader lacks an instance extension ngvk needs ({', '.join(extensions)})"
            ) from None
        if self.validation:
            self._create_messenger()

    def _create_messenger(self) -> None:
        self._user_handle = ffi.new_handle(self)
        create_info = vk.VkDebugUtilsMessengerCreateInfoEXT(
            messageSeverity=vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
            | vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            messageType=vk.VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
            | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
            | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            pfnUserCallback=_debug_callback,
            pUserData=self._user_handle,
        )
        create = vk.vkGetInstanceProcAddr(self.instance, "vkCreateDebugUtilsMessengerEXT")
        self._messenger = create(self.instance, create_info, None)

    def _choose_physical_device(self) -> None:
        try:
            physical_devices = vk.vkEnumeratePhysicalDevices(self.instance)
        except vk.VkErrorInitializationFailed:
            physical_devices = []
        if not physical_devices:
            raise SetupError(f"no Vulkan device found: {NO_DEVICE_HINT}")
        candidates = []
        for index, physical in enumerate(physical_devices):
            props = vk.vkGetPhysicalDeviceProperties(physical)
            candidates.append((index, physical, _c_string(props.deviceName), props.deviceType))
        self.all_devices = [(i, name, DEVICE_TYPE_NAMES.get(kind, "other")) for i, _, name, kind in candidates]
        listing = "; ".join(f"{i}: {name}" for i, _, name, _ in candidates)
        wanted = os.environ.get("NGVK_DEVICE", "").strip()
        if wanted:
            if wanted.isdigit():
                chosen = [c for c in candidates if c[0] == int(wanted)]
            elif wanted.lower().startswith("gpu:") and wanted[4:].isdigit():
                gpus = [c for c in candidates if _TYPE_RANK.get(c[3], 5) <= 2]  # discrete, integrated, virtual
                chosen = gpus[int(wanted[4:]):int(wanted[4:]) + 1]
            else:
                chosen = [c for c in candidates if wanted.lower() in c[2].lower()]
            if not chosen:
                raise NgvkError(f"NGVK_DEVICE={wanted} matches no Vulkan device (devices: {listing})")
        else:
            chosen = sorted(candidates, key=lambda c: (_TYPE_RANK.get(c[3], 5), c[0]))
        self.index, self.physical_device, _, _ = chosen[0]

    def _create_device(self, extensions: list[str]) -> None:
        physical = self.physical_device
        available_extensions = {
            _c_string(e.extensionName)
            for e in vk.vkEnumerateDeviceExtensionProperties(physical, None)
        }
        missing = [e for e in extensions if e not in available_extensions]
        if missing:
            raise SetupError(f"the Vulkan device lacks the extension(s) {', '.join(missing)}")

        props = vk.vkGetPhysicalDeviceProperties(physical)
        self.properties = props
        self.limits = props.limits
        device_api = props.apiVersion
        has_12 = device_api >= vk.VK_MAKE_VERSION(1, 2, 0) and self.api_version >= vk.VK_MAKE_VERSION(1, 2, 0)
        has_atomic_float = ATOMIC_FLOAT_EXTENSION in available_extensions
        # Cooperative matrices: only where the extension is advertised (Mesa 25.0 builds such
        # pipelines without it and silently writes nothing), on a Vulkan 1.2 device (their shaders
        # use the Vulkan memory model).
        has_coopmat = COOPERATIVE_MATRIX_EXTENSION in available_extensions and has_12

        # Properties that only the *2 query reports.
        subgroup = vk.VkPhysicalDeviceSubgroupProperties()
        driver = vk.VkPhysicalDeviceDriverProperties(pNext=subgroup) if has_12 else None
        props2 = vk.VkPhysicalDeviceProperties2(pNext=driver if has_12 else subgroup)
        vk.vkGetPhysicalDeviceProperties2(physical, props2)

        # Query the optional features, then enable only those ngvk uses (enabling everything supported
        # would also turn on costly ones such as robustBufferAccess).
        q_coopmat = vk.VkPhysicalDeviceCooperativeMatrixFeaturesKHR() if has_coopmat else None
        q_atomic = vk.VkPhysicalDeviceShaderAtomicFloatFeaturesEXT(pNext=q_coopmat) if has_atomic_float else None
        q11 = vk.VkPhysicalDeviceVulkan11Features(pNext=q_atomic if has_atomic_float else q_coopmat) if has_12 else None
        q12 = vk.VkPhysicalDeviceVulkan12Features(pNext=q11) if has_12 else None
        head = q12 if has_12 else q_atomic
        vk.vkGetPhysicalDeviceFeatures2(physical, vk.VkPhysicalDeviceFeatures2(pNext=head))
        float16 = bool(has_12 and q12.shaderFloat16)
        storage16 = bool(has_12 and q11.storageBuffer16BitAccess)
        host_query_reset = bool(has_12 and q12.hostQueryReset)
        atomic_add = bool(has_atomic_float and q_atomic.shaderBufferFloat32AtomicAdd)
        shared_atomic_add = bool(has_atomic_float and q_atomic.shaderSharedFloat32AtomicAdd)
        memory_model = bool(has_12 and q12.vulkanMemoryModel)
        # With the memory model on, atomics at device scope (GLSL's atomicAdd on a buffer) need its
        # device-scope feature too (VUID-RuntimeSpirv-vulkanMemoryModel-06265, seen on an H200).
        device_scope = bool(has_12 and q12.vulkanMemoryModelDeviceScope)
        coopmat = bool(has_coopmat and q_coopmat.cooperativeMatrix and memory_model)
        coopmat_shapes = _cooperative_matrix_shapes(self.instance, physical) if coopmat else []

        e_coopmat = vk.VkPhysicalDeviceCooperativeMatrixFeaturesKHR(cooperativeMatrix=vk.VK_TRUE) if coopmat else None
        e_atomic = (
            vk.VkPhysicalDeviceShaderAtomicFloatFeaturesEXT(
                pNext=e_coopmat,
                shaderBufferFloat32AtomicAdd=atomic_add,
                shaderSharedFloat32AtomicAdd=shared_atomic_add,
            )
            if atomic_add
            else None
        )
        e11 = (
            vk.VkPhysicalDeviceVulkan11Features(pNext=e_atomic if atomic_add else e_coopmat, storageBuffer16BitAccess=storage16)
            if has_12
            else None
        )
        e12 = (
            vk.VkPhysicalDeviceVulkan12Features(
                pNext=e11, shaderFloat16=float16, hostQueryReset=host_query_reset, vulkanMemoryModel=coopmat,
                vulkanMemoryModelDeviceScope=coopmat and device_scope,
            )
            if has_12
            else None
        )
        enable = vk.VkPhysicalDeviceFeatures2(pNext=e12 if has_12 else e_atomic)
        if atomic_add:
            extensions = extensions + [ATOMIC_FLOAT_EXTENSION]
        if coopmat:
            extensions = extensions + [COOPERATIVE_MATRIX_EXTENSION]
            if self.validation and self.validation_layer_version < COOPERATIVE_MATRIX_HEADER:
                self.validation_gaps = COOPERATIVE_MATRIX_LAYER_GAPS

        families = vk.vkGetPhysicalDeviceQueueFamilyProperties(physical)
        compute = [i for i, f in enumerate(families) if f.queueFlags & vk.VK_QUEUE_COMPUTE_BIT]
        if not compute:
            raise SetupError(f"the Vulkan device {_c_string(props.deviceName)} has no compute queue")
        # Prefer a family that also does graphics: on most drivers it is the one that can present.
        both = [i for i in compute if families[i].queueFlags & vk.VK_QUEUE_GRAPHICS_BIT]
        self.queue_family = (both or compute)[0]
        timestamp_bits = families[self.queue_family].timestampValidBits

        priorities = ffi.new("float[]", [1.0])
        queue_info = vk.VkDeviceQueueCreateInfo(
            queueFamilyIndex=self.queue_family, queueCount=1, pQueuePriorities=priorities
        )
        create_info = vk.VkDeviceCreateInfo(
            pNext=enable,
            queueCreateInfoCount=1,
            pQueueCreateInfos=[queue_info],
            enabledExtensionCount=len(extensions),
            ppEnabledExtensionNames=extensions,
        )
        self.handle = vk.vkCreateDevice(physical, create_info, None)
        self.queue = vk.vkGetDeviceQueue(self.handle, self.queue_family, 0)
        self.command_pool = vk.vkCreateCommandPool(
            self.handle,
            vk.VkCommandPoolCreateInfo(
                flags=vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                queueFamilyIndex=self.queue_family,
            ),
            None,
        )
        self.host_query_reset = host_query_reset
        self.memory_properties = vk.vkGetPhysicalDeviceMemoryProperties(physical)

        memory = self.memory_properties
        device_local = sum(
            memory.memoryHeaps[i].size
            for i in range(memory.memoryHeapCount)
            if memory.memoryHeaps[i].flags & vk.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT
        )
        # On a CPU or an integrated GPU, device memory is host memory: buffers are mapped directly
        # instead of going through staging copies.
        unified = props.deviceType in (
            vk.VK_PHYSICAL_DEVICE_TYPE_CPU,
            vk.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
        )
        limits = props.limits
        self.info = DeviceInfo(
            index=self.index,
            name=_c_string(props.deviceName),
            type=DEVICE_TYPE_NAMES.get(props.deviceType, "other"),
            vendor_id=props.vendorID,
            device_id=props.deviceID,
            api_version=_version_string(device_api),
            driver_version=props.driverVersion,
            driver_name=_c_string(driver.driverName) if has_12 else "",
            driver_info=_c_string(driver.driverInfo) if has_12 else "",
            subgroup_size=subgroup.subgroupSize,
            subgroup_arithmetic=bool(
                subgroup.supportedOperations & vk.VK_SUBGROUP_FEATURE_ARITHMETIC_BIT
                and subgroup.supportedStages & vk.VK_SHADER_STAGE_COMPUTE_BIT
            ),
            max_shared_memory=limits.maxComputeSharedMemorySize,
            max_storage_buffer_range=limits.maxStorageBufferRange,
            max_uniform_buffer_range=limits.maxUniformBufferRange,
            max_texel_buffer_elements=limits.maxTexelBufferElements,
            min_storage_buffer_offset_alignment=limits.minStorageBufferOffsetAlignment,
            min_texel_buffer_offset_alignment=limits.minTexelBufferOffsetAlignment,
            max_workgroup_invocations=limits.maxComputeWorkGroupInvocations,
            max_workgroup_count=tuple(limits.maxComputeWorkGroupCount),
            max_push_constants=limits.maxPushConstantsSize,
            max_memory_allocation=_max_allocation(physical, has_12),
            device_local_memory=device_local,
            unified_memory=unified,
            timestamps=timestamp_bits > 0,
            timestamp_period_ns=float(limits.timestampPeriod),
            float16=float16,
            storage16=storage16,
            float_atomic_add=atomic_add,
            shared_float_atomic_add=shared_atomic_add,
            cooperative_matrix=coopmat,
            cooperative_matrix_shapes=coopmat_shapes,
            extensions=sorted(available_extensions),
        )
        self.check_validation()

    # ---- ownership ----------------------------------------------------------------------------

    def _track(self, child) -> None:
        self._children[id(child)] = child

    def _untrack(self, child) -> None:
        self._children.pop(id(child), None)

    def check_validation(self) -> None:
        """Raise the validation errors collected since the last check, if any."""
        if self.validation_errors:
            errors, self.validation_errors = self.validation_errors, []
            raise ValidationError("\n".join(errors))

    # ---- factories ----------------------------------------------------------------------------

    def buffer(self, nbytes: int, name: str = "buffer"):
        """A storage buffer of `nbytes` bytes (contents undefined until written)."""
        from ngvk.engine.gpu.memory import Buffer

        return Buffer(self, nbytes, name)

    def buffer_from(self, array, name: str = "buffer"):
        """A storage buffer holding a copy of the numpy array `array`."""
        from ngvk.engine.gpu.memory import Buffer

        buffer = Buffer(self, max(int(array.nbytes), 4), name)
        buffer.upload(array)
        return buffer

    def kernel(self, shader: str, defines: dict | None = None, constants: dict | None = None, local_size: int = 64):
        """The compute kernel of `shader` (a path under shaders/) for these defines and constants.

        Kernels are cached per device: asking twice for the same variant returns the same object.
        """
        from ngvk.engine.gpu.kernel import Kernel

        key = (
            shader,
            tuple(sorted((defines or {}).items())),
            tuple(sorted((constants or {}).items())),
            local_size,
        )
        kernel = self._kernel_cache.get(key)
        if kernel is None or kernel.pipeline is None:
            kernel = Kernel(self, shader, defines, constants, local_size)
            self._kernel_cache[key] = kernel
        return kernel

    def sequence(self, timestamps_per_pool: int = 256):
        """A command sequence to record dispatches into, submit and time."""
        from ngvk.engine.gpu.commands import Sequence

        return Sequence(self, timestamps_per_pool)

    def run_once(self, record) -> None:
        """Record commands with `record(command_buffer)`, submit them and wait."""
        command_buffer = vk.vkAllocateCommandBuffers(
            self.handle,
            vk.VkCommandBufferAllocateInfo(
                commandPool=self.command_pool,
                level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                commandBufferCount=1,
            ),
        )[0]
        fence = vk.vkCreateFence(self.handle, vk.VkFenceCreateInfo(), None)
        try:
            vk.vkBeginCommandBuffer(
                command_buffer,
                vk.VkCommandBufferBeginInfo(flags=vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT),
            )
            record(command_buffer)
            vk.vkEndCommandBuffer(command_buffer)
            submit = vk.VkSubmitInfo(commandBufferCount=1, pCommandBuffers=[command_buffer])
            vk.vkQueueSubmit(self.queue, 1, [submit], fence)
            vk.vkWaitForFences(self.handle, 1, [fence], vk.VK_TRUE, 0xFFFFFFFFFFFFFFFF)
        finally:
            vk.vkDestroyFence(self.handle, fence, None)
            vk.vkFreeCommandBuffers(self.handle, self.command_pool, 1, [command_buffer])
        self.check_validation()

    def memory_type(self, type_bits: int, required: int, preferred: int = 0) -> int:
        """Index of a memory type allowed by `type_bits` with the `required` property flags,
        preferring one that also has the `preferred` flags."""
        memory = self.memory_properties
        allowed = [
            i
            for i in range(memory.memoryTypeCount)
            if type_bits & (1 << i) and (memory.memoryTypes[i].propertyFlags & required) == required
        ]
        if not allowed:
            raise NgvkError("the Vulkan device has no memory type ngvk can use for buffers")
        best = [i for i in allowed if (memory.memoryTypes[i].propertyFlags & preferred) == preferred]
        return (best or allowed)[0]

    def wait_idle(self) -> None:
        if self.handle is not None:
            vk.vkDeviceWaitIdle(self.handle)

    # ---- release ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release every object created on this device, then the device and the instance."""
        if self.handle is not None:
            vk.vkDeviceWaitIdle(self.handle)
            # Sequences first (they reference kernels and buffers), then kernels, then buffers.
            order = {"Sequence": 0, "Kernel": 1}
            for child in sorted(self._children.values(), key=lambda c: order.get(type(c).__name__, 2)):
                child.close()
            self._children.clear()
            self._kernel_cache.clear()
            if self.command_pool is not None:
                vk.vkDestroyCommandPool(self.handle, self.command_pool, None)
                self.command_pool = None
            vk.vkDestroyDevice(self.handle, None)
            self.handle = None
        if self._messenger is not None:
            destroy = vk.vkGetInstanceProcAddr(self.instance, "vkDestroyDebugUtilsMessengerEXT")
            destroy(self.instance, self._messenger, None)
            self._messenger = None
        if self.instance is not None:
            vk.vkDestroyInstance(self.instance, None)
            self.instance = None
        self.check_validation()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cooperative_matrix_shapes(instance, physical) -> list[tuple]:
    """vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR's list, as DeviceInfo.cooperative_matrix_shapes.

    Called through the raw function pointer: the `vulkan` package's wrapper allocates the output
    structs without setting their sType, which the specification (and the validation layer) require.
    """
    name = "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"
    address = vk.lib.vkGetInstanceProcAddr(instance, name.encode())
    if address == ffi.NULL:
        return []
    function = ffi.cast("PFN_" + name, address)
    count = ffi.new("uint32_t*")
    if function(physical, count, ffi.NULL) != vk.VK_SUCCESS or count[0] == 0:
        return []
    properties = ffi.new("VkCooperativeMatrixPropertiesKHR[]", count[0])
    for i in range(count[0]):
        properties[i].sType = vk.VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR
    if function(physical, count, properties) not in (vk.VK_SUCCESS, vk.VK_INCOMPLETE):
        return []
    shapes = []
    for i in range(count[0]):
        p = properties[i]
        types = [COMPONENT_TYPE_NAMES.get(t, str(t)) for t in (p.AType, p.BType, p.CType, p.ResultType)]
        shapes.append((p.MSize, p.NSize, p.KSize, *types, SCOPE_NAMES.get(p.scope, str(p.scope))))
    return shapes


def _max_allocation(physical, has_12: bool) -> int:
    """maxMemoryAllocationSize (Vulkan 1.1 maintenance3), or 0 where it is not reported."""
    if not has_12:
        return 0
    maintenance3 = vk.VkPhysicalDeviceMaintenance3Properties()
    vk.vkGetPhysicalDeviceProperties2(physical, vk.VkPhysicalDeviceProperties2(pNext=maintenance3))
    return int(maintenance3.maxMemoryAllocationSize)
