// Helpers every ngvk kernel uses.
//
// Kernels run one invocation per item over a 1D range that Kernel.groups() may fold into a 2D grid of
// workgroups (a device allows at most maxComputeWorkGroupCount[0] groups along x); global_index()
// unfolds it. Every kernel compares it with its item count, since the last workgroup overhangs.

#ifndef NGVK_COMMON_GLSL
#define NGVK_COMMON_GLSL

uint global_index() {
    return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}

#endif
