/* SPDX-License-Identifier: Apache-2.0 */
/* nvml_text.c: the text of NVML's return codes (nvml_text.h). */
#include "core/nvml_text.h"

/* Indexed by code; the codes run without gaps from 0 to NVML_ERROR_INVALID_STATE, then 999. */
static const char *const messages[] = {
    [NVML_SUCCESS] = "Success",
    [NVML_ERROR_UNINITIALIZED] = "Uninitialized (call nvmlInit first)",
    [NVML_ERROR_INVALID_ARGUMENT] = "Invalid argument",
    [NVML_ERROR_NOT_SUPPORTED] = "Not supported",
    [NVML_ERROR_NO_PERMISSION] = "Insufficient permissions",
    [NVML_ERROR_ALREADY_INITIALIZED] = "Already initialized",
    [NVML_ERROR_NOT_FOUND] = "Not found",
    [NVML_ERROR_INSUFFICIENT_SIZE] = "Insufficient size",
    [NVML_ERROR_INSUFFICIENT_POWER] = "Insufficient external power",
    [NVML_ERROR_DRIVER_NOT_LOADED] = "Driver not loaded",
    [NVML_ERROR_TIMEOUT] = "Timeout",
    [NVML_ERROR_IRQ_ISSUE] = "Interrupt request issue",
    [NVML_ERROR_LIBRARY_NOT_FOUND] = "NVML shared library not found",
    [NVML_ERROR_FUNCTION_NOT_FOUND] = "Function not found",
    [NVML_ERROR_CORRUPTED_INFOROM] = "Corrupted infoROM",
    [NVML_ERROR_GPU_IS_LOST] = "GPU is lost",
    [NVML_ERROR_RESET_REQUIRED] = "GPU requires a reset",
    [NVML_ERROR_OPERATING_SYSTEM] = "The operating system blocked the request",
    [NVML_ERROR_LIB_RM_VERSION_MISMATCH] = "Library and driver versions do not match",
    [NVML_ERROR_IN_USE] = "In use by another client",
    [NVML_ERROR_MEMORY] = "Insufficient memory",
    [NVML_ERROR_NO_DATA] = "No data",
    [NVML_ERROR_VGPU_ECC_NOT_SUPPORTED] =
        "The vGPU operation is not available while ECC is enabled",
    [NVML_ERROR_INSUFFICIENT_RESOURCES] = "Insufficient resources",
    [NVML_ERROR_FREQ_NOT_SUPPORTED] = "Frequency not supported",
    [NVML_ERROR_ARGUMENT_VERSION_MISMATCH] = "Argument version mismatch",
    [NVML_ERROR_DEPRECATED] = "Deprecated",
    [NVML_ERROR_NOT_READY] = "Not ready",
    [NVML_ERROR_GPU_NOT_FOUND] = "GPU not found",
    [NVML_ERROR_INVALID_STATE] = "Invalid state",
};

const char *gv_nvml_error_text(nvmlReturn_t r)
{
    if ((unsigned)r < sizeof(messages) / sizeof(messages[0]) && messages[r])
        return messages[r];
    return "Unknown error";
}
