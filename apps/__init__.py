"""ngvk's applications and its command line. Apps are thin: they drive the engine, never Vulkan."""
