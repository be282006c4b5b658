"""Rendering that every app shares: cameras and their rays, and the frame renderer (tiling, fused or
unfused recording, per-stage GPU times)."""
