// Helpers every ngvk kernel uses.
//
// Kernels run one invocation per item over a 1D range that Kernel.groups() may fold into a 2D grid of
// workgroups (a device allows at most maxComputeWorkGroupCount[0] groups along x); global_index()
// unfolds it. Every kernel compares it with its item count, since the last workgroup overhangs.

#ifndef NGVK_COMMON_GLSL
#define NGVK_COMMON_GLSL

// Token pasting with the arguments expanded first: NGVK_CAT(MLP_INSTANCE, _WIDTH) -> density_WIDTH.
// The layers' GLSL names an instance's defines, bindings and functions with it (lib/mlp.glsl).
#define NGVK_CAT_(a, b) a##b
#define NGVK_CAT(a, b) NGVK_CAT_(a, b)

// The item count of a kernel that can also run over a list of live rays (engine/render/rays.py):
// the push constant n, or, compiled with ITEM_COUNTER 1, word 0 of the counter buffer it is
// dispatched through (declared with ITEM_COUNTER_BUFFER(binding), bound as `item_counter`), so
// that the host need not know how many rays are left.
#ifndef ITEM_COUNTER
#define ITEM_COUNTER 0
#endif
#if ITEM_COUNTER
#define ITEM_COUNTER_BUFFER(index) layout(std430, binding = index) readonly buffer ItemCounter { uint item_counter[]; }
#define ITEM_COUNT item_counter[0]
#else
#define ITEM_COUNTER_BUFFER(index)
#define ITEM_COUNT n
#endif

uint global_index() {
    return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}

#endif
