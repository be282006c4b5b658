// Float addition into buffers from many invocations at once (gradient scatter and reduction).
//
// Where the device has shaderBufferFloat32AtomicAdd (NGVK_FLOAT_ATOMICS = 1) this is atomicAdd on a
// float buffer; elsewhere a compare-and-swap loop on the float's bits in a uint buffer. Declare the
// buffer with FLOAT_ATOMIC_BUFFER so its element type matches, and add with ATOMIC_ADD_FLOAT.
// The order of additions is not fixed, so sums can differ in the last bits from run to run.

#ifndef NGVK_ATOMICS_GLSL
#define NGVK_ATOMICS_GLSL

#if NGVK_FLOAT_ATOMICS
#extension GL_EXT_shader_atomic_float : require
#define FLOAT_ATOMIC_BUFFER(index, Block, name) \
    layout(std430, binding = index) buffer Block { float name[]; }
#define ATOMIC_ADD_FLOAT(name, i, value) atomicAdd(name[i], value)
#else
#define FLOAT_ATOMIC_BUFFER(index, Block, name) \
    layout(std430, binding = index) buffer Block { uint name[]; }
#define ATOMIC_ADD_FLOAT(name, i, value)                                                       \
    {                                                                                          \
        uint atomic_index_ = (i);                                                              \
        float atomic_value_ = (value);                                                         \
        uint expected_ = name[atomic_index_];                                                  \
        for (;;) {                                                                             \
            uint desired_ = floatBitsToUint(uintBitsToFloat(expected_) + atomic_value_);       \
            uint actual_ = atomicCompSwap(name[atomic_index_], expected_, desired_);           \
            if (actual_ == expected_) break;                                                   \
            expected_ = actual_;                                                               \
        }                                                                                      \
    }
#endif

#endif
