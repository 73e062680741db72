// Static names and descriptions of every status.
#include "core/status.hpp"

namespace bs {
namespace {

struct StatusText {
  bs_status_t status;
  const char* name;
  const char* description;
};

constexpr StatusText kStatusTexts[] = {
    {BS_STATUS_SUCCESS, "BS_STATUS_SUCCESS", "The call succeeded."},
    {BS_STATUS_NULL_POINTER, "BS_STATUS_NULL_POINTER", "A required pointer argument was NULL."},
    {BS_STATUS_INVALID_VALUE, "BS_STATUS_INVALID_VALUE", "An argument is outside its valid range."},
    {BS_STATUS_SHAPE_MISMATCH, "BS_STATUS_SHAPE_MISMATCH", "Sizes or shapes of the arguments do not agree."},
    {BS_STATUS_OVERFLOW, "BS_STATUS_OVERFLOW", "A size computed from the arguments overflows."},
    {BS_STATUS_INVALID_LAYOUT, "BS_STATUS_INVALID_LAYOUT", "The block layout is malformed."},
    {BS_STATUS_WORKSPACE_TOO_SMALL, "BS_STATUS_WORKSPACE_TOO_SMALL",
     "The workspace is smaller than the workspace-size query requires."},
    {BS_STATUS_MISALIGNED_POINTER, "BS_STATUS_MISALIGNED_POINTER",
     "A data pointer is not aligned as the backend requires."},
    {BS_STATUS_STRUCT_SIZE_MISMATCH, "BS_STATUS_STRUCT_SIZE_MISMATCH",
     "The struct_size of a parameter struct is not one this library knows."},
    {BS_STATUS_WRONG_BACKEND, "BS_STATUS_WRONG_BACKEND",
     "A pointer or object belongs to another backend than the plan."},
    {BS_STATUS_WRONG_DEVICE, "BS_STATUS_WRONG_DEVICE", "A device pointer lives on another GPU than the plan's."},
    {BS_STATUS_NOT_SUPPORTED, "BS_STATUS_NOT_SUPPORTED", "This combination of options is not implemented."},
    {BS_STATUS_BACKEND_UNAVAILABLE, "BS_STATUS_BACKEND_UNAVAILABLE",
     "The backend is not compiled into this library or finds no device."},
    {BS_STATUS_ARCH_NOT_SUPPORTED, "BS_STATUS_ARCH_NOT_SUPPORTED",
     "This build has no code for the GPU's architecture."},
    {BS_STATUS_OUT_OF_MEMORY, "BS_STATUS_OUT_OF_MEMORY", "A host or device allocation failed."},
    {BS_STATUS_EXECUTION_FAILED, "BS_STATUS_EXECUTION_FAILED", "A device runtime call or kernel launch failed."},
    {BS_STATUS_INTERNAL_ERROR, "BS_STATUS_INTERNAL_ERROR", "An internal error of the library (please report it)."},
};

const StatusText* find(int32_t status) {
  for (const StatusText& t : kStatusTexts)
    if (t.status == status) return &t;
  return nullptr;
}

}  // namespace

const char* status_name(int32_t status) {
  const StatusText* t = find(status);
  return t ? t->name : "BS_STATUS_UNKNOWN";
}

const char* status_description(int32_t status) {
  const StatusText* t = find(status);
  return t ? t->description : "Unknown status value.";
}

}  // namespace bs
