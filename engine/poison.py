"""Poison words: what checks, tests and the benchmark fill output buffers with before a kernel writes
them, so that an output the kernel never wrote shows up instead of passing as whatever the memory
held (often the right answer, left there by an earlier run). No Vulkan here: the command line
imports it before it loads the Vulkan loader.
"""

# A float32 quiet NaN as a 32-bit word: every comparison with it fails, including NaN == NaN in a
# max |a - b| <= tolerance test.
POISON_WORD = 0x7FC00000

# Words for two 8-bit frames that are to be compared (engine/render/frame.py FrameRenderer.render): every
# byte of one is far from the same byte of the other, so a pixel that either render leaves
# unwritten differs by much more than the one 8-bit step of rounding comparisons allow.
POISON_RGBA8 = (0x5A3C96E1, 0xA5C3691E)
