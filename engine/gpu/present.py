"""Presenter: showing rendered frames in a window through a Vulkan swapchain.

The window (GLFW) belongs to the viewer; this module makes its Vulkan surface and swapchain and
presents a frame buffer (RGBA8, one uint per pixel, as FrameRenderer writes it) on it: the buffer is
copied into an RGBA8 image, which is blitted (scaled with linear filtering when the frame is smaller
than the window, as under dynamic resolution) onto the swapchain image. Blitting converts to the
swapchain's channel order, so the frame is the same bytes `ngvk render` writes to a PNG. One frame
is in flight at a time: a CPU renderer gains nothing from more, and it keeps synchronisation simple.
"""

from __future__ import annotations

from ngvk.engine.gpu._vulkan import ffi, vk
from ngvk.engine.errors import NgvkError

SWAPCHAIN_EXTENSION = "VK_KHR_swapchain"
# UNORM formats: the frame is already sRGB-encoded; an _SRGB swapchain would encode it twice.
PREFERRED_FORMATS = (vk.VK_FORMAT_B8G8R8A8_UNORM, vk.VK_FORMAT_R8G8B8A8_UNORM)
FRAME_FORMAT = vk.VK_FORMAT_R8G8B8A8_UNORM
NO_TIMEOUT = 0xFFFFFFFFFFFFFFFF


class SwapchainOutOfDate(Exception):
    """The window changed: recreate the swapchain (Presenter.resize) and present again."""


def required_instance_extensions() -> list[str]:
    """Instance extensions a Device needs to present to GLFW windows."""
    import glfw

    return list(glfw.get_required_instance_extensions() or [])


class Presenter:
    """A GLFW window's surface and swapchain on `device`."""

    def __init__(self, device, window):
        import glfw

        self.device = device
        self.window = window
        self.swapchain = None
        self.images: list = []
        self.frame_image = None
        self.frame_memory = None
        self.frame_size = (0, 0)
        instance = device.instance
        self._instance_fn = lambda name: vk.vkGetInstanceProcAddr(instance, name)
        self._device_fn = lambda name: vk.vkGetDeviceProcAddr(device.handle, name)
        surface = ffi.new("VkSurfaceKHR*")
        if glfw.create_window_surface(instance, window, None, surface) != vk.VK_SUCCESS:
            raise NgvkError("could not create a Vulkan surface for the window")
        self.surface = surface[0]
        supported = self._instance_fn("vkGetPhysicalDeviceSurfaceSupportKHR")(
            device.physical_device, device.queue_family, self.surface
        )
        if not supported:
            self._destroy_surface()
            raise NgvkError(f"{device.info.name} cannot present to this window: try another NGVK_DEVICE")
        formats = self._instance_fn("vkGetPhysicalDeviceSurfaceFormatsKHR")(device.physical_device, self.surface)
        by_format = {f.format: f for f in formats}
        chosen = next((by_format[f] for f in PREFERRED_FORMATS if f in by_format), None)
        if chosen is None:
            self._destroy_surface()
            raise NgvkError("the window offers no 8-bit UNORM swapchain format")
        self.format, self.color_space = chosen.format, chosen.colorSpace
        handle = device.handle
        self.image_available = vk.vkCreateSemaphore(handle, vk.VkSemaphoreCreateInfo(), None)
        self.render_finished = vk.vkCreateSemaphore(handle, vk.VkSemaphoreCreateInfo(), None)
        self.fence = vk.vkCreateFence(handle, vk.VkFenceCreateInfo(flags=vk.VK_FENCE_CREATE_SIGNALED_BIT), None)
        self.command_buffer = vk.vkAllocateCommandBuffers(
            handle,
            vk.VkCommandBufferAllocateInfo(
                commandPool=device.command_pool, level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY, commandBufferCount=1
            ),
        )[0]
        properties = vk.vkGetPhysicalDeviceFormatProperties(device.physical_device, FRAME_FORMAT)
        linear = properties.optimalTilingFeatures & vk.VK_FORMAT_FEATURE_SAMPLED_IMAGE_FILTER_LINEAR_BIT
        self.filter = vk.VK_FILTER_LINEAR if linear else vk.VK_FILTER_NEAREST
        device._track(self)
        self.resize()

    # ---- swapchain ----------------------------------------------------------------------------

    def resize(self) -> tuple[int, int]:
        """(Re)create the swapchain for the window's current size; returns that size (0 x 0 while
        the window is minimised, and then there is no swapchain to present to)."""
        import glfw

        device = self.device
        vk.vkDeviceWaitIdle(device.handle)
        capabilities = self._instance_fn("vkGetPhysicalDeviceSurfaceCapabilitiesKHR")(
            device.physical_device, self.surface
        )
        width, height = glfw.get_framebuffer_size(self.window)
        if capabilities.currentExtent.width != 0xFFFFFFFF:
            width, height = capabilities.currentExtent.width, capabilities.currentExtent.height
        width = min(max(width, capabilities.minImageExtent.width), capabilities.maxImageExtent.width)
        height = min(max(height, capabilities.minImageExtent.height), capabilities.maxImageExtent.height)
        old = self.swapchain
        self.swapchain = None
        self.size = (width, height)
        if width == 0 or height == 0:
            self._destroy_swapchain(old)
            return self.size
        if not capabilities.supportedUsageFlags & vk.VK_IMAGE_USAGE_TRANSFER_DST_BIT:
            raise NgvkError("the window's swapchain images cannot be copied to (no TRANSFER_DST usage)")
        count = capabilities.minImageCount + 1
        if capabilities.maxImageCount:
            count = min(count, capabilities.maxImageCount)
        create_info = vk.VkSwapchainCreateInfoKHR(
            surface=self.surface,
            minImageCount=count,
            imageFormat=self.format,
            imageColorSpace=self.color_space,
            imageExtent=vk.VkExtent2D(width=width, height=height),
            imageArrayLayers=1,
            imageUsage=vk.VK_IMAGE_USAGE_TRANSFER_DST_BIT,
            imageSharingMode=vk.VK_SHARING_MODE_EXCLUSIVE,
            preTransform=capabilities.currentTransform,
            compositeAlpha=vk.VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR,
            presentMode=vk.VK_PRESENT_MODE_FIFO_KHR,  # the one mode every driver has
            clipped=vk.VK_TRUE,
            oldSwapchain=old,
        )
        self.swapchain = self._device_fn("vkCreateSwapchainKHR")(device.handle, create_info, None)
        self._destroy_swapchain(old)
        self.images = list(self._device_fn("vkGetSwapchainImagesKHR")(device.handle, self.swapchain))
        device.check_validation()
        return self.size

    def _destroy_swapchain(self, swapchain) -> None:
        if swapchain is not None:
            self._device_fn("vkDestroySwapchainKHR")(self.device.handle, swapchain, None)

    def _frame_image(self, width: int, height: int):
        """The RGBA8 image the frame buffer is copied into, sized to the frame."""
        if self.frame_size == (width, height):
            return self.frame_image
        handle = self.device.handle
        self._destroy_frame_image()
        self.frame_image = vk.vkCreateImage(
            handle,
            vk.VkImageCreateInfo(
                imageType=vk.VK_IMAGE_TYPE_2D,
                format=FRAME_FORMAT,
                extent=vk.VkExtent3D(width=width, height=height, depth=1),
                mipLevels=1,
                arrayLayers=1,
                samples=vk.VK_SAMPLE_COUNT_1_BIT,
                tiling=vk.VK_IMAGE_TILING_OPTIMAL,
                usage=vk.VK_IMAGE_USAGE_TRANSFER_DST_BIT | vk.VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE,
                initialLayout=vk.VK_IMAGE_LAYOUT_UNDEFINED,
            ),
            None,
        )
        requirements = vk.vkGetImageMemoryRequirements(handle, self.frame_image)
        memory_type = self.device.memory_type(requirements.memoryTypeBits, vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
        self.frame_memory = vk.vkAllocateMemory(
            handle, vk.VkMemoryAllocateInfo(allocationSize=requirements.size, memoryTypeIndex=memory_type), None
        )
        vk.vkBindImageMemory(handle, self.frame_image, self.frame_memory, 0)
        self.frame_size = (width, height)
        return self.frame_image

    def _destroy_frame_image(self) -> None:
        handle = self.device.handle
        if self.frame_image is not None:
            vk.vkDestroyImage(handle, self.frame_image, None)
            self.frame_image = None
        if self.frame_memory is not None:
            vk.vkFreeMemory(handle, self.frame_memory, None)
            self.frame_memory = None
        self.frame_size = (0, 0)

    # ---- presenting ---------------------------------------------------------------------------

    def present(self, frame_buffer, width: int, height: int) -> None:
        """Show the `width` x `height` RGBA8 frame in `frame_buffer`, scaled to the window.
        Raises SwapchainOutOfDate when the window changed under it (then resize and retry)."""
        if self.swapchain is None:
            raise SwapchainOutOfDate()
        device = self.device
        handle = device.handle
        vk.vkWaitForFences(handle, 1, [self.fence], vk.VK_TRUE, NO_TIMEOUT)
        index_out = ffi.new("uint32_t*")
        stale = False
        try:
            self._device_fn("vkAcquireNextImageKHR")(
                handle, self.swapchain, NO_TIMEOUT, self.image_available, None, index_out
            )
        except vk.VkErrorOutOfDateKhr:
            raise SwapchainOutOfDate() from None
        except vk.VkSuboptimalKhr:
            # Acquired (the semaphore will signal), but the window changed: present, then recreate.
            stale = True
        index = index_out[0]
        vk.vkResetFences(handle, 1, [self.fence])
        image = self._frame_image(width, height)
        target = self.images[index]
        cb = self.command_buffer
        vk.vkResetCommandBuffer(cb, 0)
        vk.vkBeginCommandBuffer(cb, vk.VkCommandBufferBeginInfo(flags=vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT))
        # The frame buffer was written by compute dispatches that finished before this submission
        # (the renderer waits on its fence), so host ordering covers that hazard; these barriers order
        # the transfers on the two images.
        self._barrier(cb, image, vk.VK_IMAGE_LAYOUT_UNDEFINED, vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, vk.VK_ACCESS_TRANSFER_WRITE_BIT)
        region = vk.VkBufferImageCopy(
            bufferOffset=0,
            bufferRowLength=0,
            bufferImageHeight=0,
            imageSubresource=vk.VkImageSubresourceLayers(aspectMask=vk.VK_IMAGE_ASPECT_COLOR_BIT, mipLevel=0, baseArrayLayer=0, layerCount=1),
            imageOffset=vk.VkOffset3D(x=0, y=0, z=0),
            imageExtent=vk.VkExtent3D(width=width, height=height, depth=1),
        )
        vk.vkCmdCopyBufferToImage(cb, frame_buffer.handle, image, vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, [region])
        # Copy before blit: the blit reads what the copy wrote.
        self._barrier(
            cb, image, vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
            vk.VK_ACCESS_TRANSFER_WRITE_BIT, vk.VK_ACCESS_TRANSFER_READ_BIT,
        )
        # The swapchain image's old contents are discarded (UNDEFINED); the blit covers all of it.
        self._barrier(cb, target, vk.VK_IMAGE_LAYOUT_UNDEFINED, vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, vk.VK_ACCESS_TRANSFER_WRITE_BIT)
        layers = vk.VkImageSubresourceLayers(aspectMask=vk.VK_IMAGE_ASPECT_COLOR_BIT, mipLevel=0, baseArrayLayer=0, layerCount=1)
        window_width, window_height = self.size
        blit = vk.VkImageBlit(
            srcSubresource=layers,
            srcOffsets=[vk.VkOffset3D(x=0, y=0, z=0), vk.VkOffset3D(x=width, y=height, z=1)],
            dstSubresource=layers,
            dstOffsets=[vk.VkOffset3D(x=0, y=0, z=0), vk.VkOffset3D(x=window_width, y=window_height, z=1)],
        )
        vk.vkCmdBlitImage(
            cb, image, vk.VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, target, vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
            1, [blit], self.filter,
        )
        # Blit before present.
        self._barrier(cb, target, vk.VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, vk.VK_IMAGE_LAYOUT_PRESENT_SRC_KHR, vk.VK_ACCESS_TRANSFER_WRITE_BIT, 0)
        vk.vkEndCommandBuffer(cb)
        wait_stages = ffi.new("VkPipelineStageFlags[]", [vk.VK_PIPELINE_STAGE_TRANSFER_BIT])
        submit = vk.VkSubmitInfo(
            waitSemaphoreCount=1,
            pWaitSemaphores=[self.image_available],
            pWaitDstStageMask=wait_stages,
            commandBufferCount=1,
            pCommandBuffers=[cb],
            signalSemaphoreCount=1,
            pSignalSemaphores=[self.render_finished],
        )
        vk.vkQueueSubmit(device.queue, 1, [submit], self.fence)
        present_info = vk.VkPresentInfoKHR(
            waitSemaphoreCount=1,
            pWaitSemaphores=[self.render_finished],
            swapchainCount=1,
            pSwapchains=[self.swapchain],
            pImageIndices=[index],
        )
        try:
            self._device_fn("vkQueuePresentKHR")(device.queue, present_info)
        except (vk.VkErrorOutOfDateKhr, vk.VkSuboptimalKhr):
            stale = True
        device.check_validation()
        if stale:
            raise SwapchainOutOfDate()

    @staticmethod
    def _barrier(cb, image, old_layout, new_layout, src_access, dst_access) -> None:
        barrier = vk.VkImageMemoryBarrier(
            srcAccessMask=src_access,
            dstAccessMask=dst_access,
            oldLayout=old_layout,
            newLayout=new_layout,
            srcQueueFamilyIndex=vk.VK_QUEUE_FAMILY_IGNORED,
            dstQueueFamilyIndex=vk.VK_QUEUE_FAMILY_IGNORED,
            image=image,
            subresourceRange=vk.VkImageSubresourceRange(
                aspectMask=vk.VK_IMAGE_ASPECT_COLOR_BIT, baseMipLevel=0, levelCount=1, baseArrayLayer=0, layerCount=1
            ),
        )
        vk.vkCmdPipelineBarrier(
            cb, vk.VK_PIPELINE_STAGE_TRANSFER_BIT, vk.VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, None, 0, None, 1, [barrier]
        )

    # ---- release ------------------------------------------------------------------------------

    def _destroy_surface(self) -> None:
        self._instance_fn("vkDestroySurfaceKHR")(self.device.instance, self.surface, None)
        self.surface = None

    def close(self) -> None:
        device = self.device
        if device.handle is None or self.surface is None:
            return
        vk.vkDeviceWaitIdle(device.handle)
        self._destroy_frame_image()
        self._destroy_swapchain(self.swapchain)
        self.swapchain = None
        vk.vkFreeCommandBuffers(device.handle, device.command_pool, 1, [self.command_buffer])
        vk.vkDestroyFence(device.handle, self.fence, None)
        vk.vkDestroySemaphore(device.handle, self.image_available, None)
        vk.vkDestroySemaphore(device.handle, self.render_finished, None)
        self._destroy_surface()
        device._untrack(self)
