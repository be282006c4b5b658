// Cooperative-matrix tiles for the MLP (VK_KHR_cooperative_matrix; lib/mlp_block.glsl): fp16
// operands, fp32 accumulators, subgroup scope, M x N x K as the device lists it
// (engine/gpu/device.py DeviceInfo.cooperative_matrix_shapes; engine/nn/layers.py picks one).
// Define before including:
//   CM_M, CM_N, CM_K   the shape: A is M x K, B is K x N, the accumulator M x N
//   CM_SUBGROUPS       subgroups per workgroup the kernel was sized for (its scratch tiles)
//   CM_PAD             the granule matrices are padded to (a multiple of CM_M, CM_N and CM_K)
// Where an element's position matters (a ReLU derivative, writing the valid rows and columns of a
// padded tile) a subgroup stores its accumulator into its own fp32 scratch tile and each lane
// takes elements of it: which lane holds which element of a cooperative matrix is the driver's.
// Element-wise operations that do not depend on the position (ReLU, the output activation, a
// scale) act on the accumulator directly. Loads and stores keep 16-byte alignment (strides and
// offsets multiples of 8 halves), as the Vulkan specification asks of them.

#ifndef NGVK_MLP_COOPMAT_GLSL
#define NGVK_MLP_COOPMAT_GLSL

#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require

#define CM_A coopmat<float16_t, gl_ScopeSubgroup, CM_M, CM_K, gl_MatrixUseA>
#define CM_B coopmat<float16_t, gl_ScopeSubgroup, CM_K, CM_N, gl_MatrixUseB>
#define CM_ACC coopmat<float, gl_ScopeSubgroup, CM_M, CM_N, gl_MatrixUseAccumulator>
#define CM_ACC16 coopmat<float16_t, gl_ScopeSubgroup, CM_M, CM_N, gl_MatrixUseAccumulator>
#define CM_TILE (CM_M * CM_N)
#define CM_ROW_MAJOR gl_CooperativeMatrixLayoutRowMajor
#define CM_COLUMN_MAJOR gl_CooperativeMatrixLayoutColumnMajor

shared float cm_scratch[CM_SUBGROUPS * CM_TILE];

// This subgroup, and how many subgroups take part: if the driver ran the workgroup in more,
// smaller subgroups than CM_SUBGROUPS, the others stay idle (their scratch does not exist); with
// fewer, larger ones, each takes more tiles.
#define CM_SUBGROUP gl_SubgroupID
#define CM_ACTIVE_SUBGROUPS min(gl_NumSubgroups, uint(CM_SUBGROUPS))

// Make a subgroup's shared-memory writes visible to its own lanes.
void cm_sync() {
    subgroupMemoryBarrierShared();
    subgroupBarrier();
}

// Store `acc` into this subgroup's scratch tile (row-major, M x N) for its lanes to read; the
// loop CM_FOR_SCRATCH(e) then gives each lane its elements e (row e / CM_N, column e % CM_N) of
// cm_scratch[cm_tile_base() + e]. End with cm_sync() before the scratch is stored into again.
uint cm_tile_base() { return CM_SUBGROUP * uint(CM_TILE); }
#define CM_TO_SCRATCH(acc)                                                                       \
    coopMatStore(acc, cm_scratch, cm_tile_base(), uint(CM_N), CM_ROW_MAJOR);                     \
    cm_sync();
#define CM_FOR_SCRATCH(e) for (uint e = gl_SubgroupInvocationID; e < uint(CM_TILE); e += gl_SubgroupSize)

// A power of two that brings max |x| = m into [0.5, 1) (1 for 0, infinities and NaN): scaling fp16
// operands by it before a product and the fp32 result back by its inverse is exact, and keeps
// small values such as gradients of a mean loss (10^-5 and less) out of fp16's subnormal range,
// where they would lose their precision (tcnn scales its loss by 128 for the same reason).
float cm_scale_for(float m) {
    if (!(m > 0.0) || isinf(m)) return 1.0;
    int e;
    frexp(m, e);
    return ldexp(1.0, -max(e, -120));  // a float32 subnormal maximum: a scale that still fits
}

#endif
